package capi

/*
#include <ocidir.h>
*/
import "C"

import "unsafe"

// Config fields of ocidir.h.
const (
	ConfigEntrypoint   = int(C.OCIDIR_CONFIG_ENTRYPOINT)
	ConfigCmd          = int(C.OCIDIR_CONFIG_CMD)
	ConfigEnv          = int(C.OCIDIR_CONFIG_ENV)
	ConfigDiffIDs      = int(C.OCIDIR_CONFIG_DIFF_IDS)
	ConfigUser         = int(C.OCIDIR_CONFIG_USER)
	ConfigWorkingDir   = int(C.OCIDIR_CONFIG_WORKING_DIR)
	ConfigOS           = int(C.OCIDIR_CONFIG_OS)
	ConfigArchitecture = int(C.OCIDIR_CONFIG_ARCHITECTURE)
	ConfigVariant      = int(C.OCIDIR_CONFIG_VARIANT)
	ConfigCreated      = int(C.OCIDIR_CONFIG_CREATED)
	ConfigStopSignal   = int(C.OCIDIR_CONFIG_STOP_SIGNAL)
)

// Image is an ocidir_image_t.
type Image struct{ p *C.ocidir_image_t }

// ImageOpen calls ocidir_image_open ("" platform: the default).
func (d *Dir) ImageOpen(ref, platform string) (*Image, error) {
	a := newCstrings("ocidir_image_open")
	defer a.free()
	r, pl := a.str("ref", ref), a.opt("platform", platform)
	var img *C.ocidir_image_t
	if err := a.call(func() C.int { return C.ocidir_image_open(d.p, r, pl, &img) }); err != nil {
		return nil, err
	}
	return &Image{img}, nil
}

// Close calls ocidir_image_close.
func (i *Image) Close() { C.ocidir_image_close(i.p) }

// Manifest calls ocidir_image_manifest and copies the bytes.
func (i *Image) Manifest() (string, []byte, error) {
	var out digestBuf
	var buf unsafe.Pointer
	var n C.size_t
	if err := call("ocidir_image_manifest", func() C.int { return C.ocidir_image_manifest(i.p, out.ptr(), &buf, &n) }); err != nil {
		return "", nil, err
	}
	return out.String(), C.GoBytes(buf, C.int(n)), nil
}

// ConfigDescriptor calls ocidir_image_config_descriptor.
func (i *Image) ConfigDescriptor() (mediaType, digest string, size uint64, err error) {
	var out digestBuf
	var mt *C.char
	var sz C.uint64_t
	if err := call("ocidir_image_config_descriptor", func() C.int { return C.ocidir_image_config_descriptor(i.p, &mt, out.ptr(), &sz) }); err != nil {
		return "", "", 0, err
	}
	mediaType, _ = takeString(mt)
	return mediaType, out.String(), uint64(sz), nil
}

// ConfigIsEmpty calls ocidir_image_config_is_empty.
func (i *Image) ConfigIsEmpty() bool { return C.ocidir_image_config_is_empty(i.p) == 1 }

// ArtifactType calls ocidir_image_artifact_type ("" when absent).
func (i *Image) ArtifactType() string {
	p := C.ocidir_image_artifact_type(i.p)
	if p == nil {
		return ""
	}
	return C.GoString(p)
}

// LayerCount calls ocidir_image_layer_count.
func (i *Image) LayerCount() int { return int(C.ocidir_image_layer_count(i.p)) }

// Layer calls ocidir_image_layer.
func (i *Image) Layer(index int) (mediaType, digest string, size uint64, err error) {
	var out digestBuf
	var mt *C.char
	var sz C.uint64_t
	if err := call("ocidir_image_layer", func() C.int { return C.ocidir_image_layer(i.p, C.size_t(index), &mt, out.ptr(), &sz) }); err != nil {
		return "", "", 0, err
	}
	mediaType, _ = takeString(mt)
	return mediaType, out.String(), uint64(sz), nil
}

// Annotations calls ocidir_image_annotations; layer -1 is the manifest.
func (i *Image) Annotations(layer int) ([]string, error) {
	idx := C.size_t(layer)
	if layer < 0 {
		idx = C.OCIDIR_MANIFEST
	}
	var v **C.char
	if err := call("ocidir_image_annotations", func() C.int { return C.ocidir_image_annotations(i.p, idx, &v) }); err != nil {
		return nil, err
	}
	return takeStrv(v), nil
}

// ConfigStrv calls ocidir_image_config_strv (nil: absent).
func (i *Image) ConfigStrv(field int) ([]string, error) {
	var v **C.char
	if err := call("ocidir_image_config_strv", func() C.int { return C.ocidir_image_config_strv(i.p, C.ocidir_config_field_t(field), &v) }); err != nil {
		return nil, err
	}
	return takeStrv(v), nil
}

// ConfigString calls ocidir_image_config_string.
func (i *Image) ConfigString(field int) (string, bool, error) {
	var s *C.char
	if err := call("ocidir_image_config_string", func() C.int { return C.ocidir_image_config_string(i.p, C.ocidir_config_field_t(field), &s) }); err != nil {
		return "", false, err
	}
	v, ok := takeString(s)
	return v, ok, nil
}

// ConfigLabels calls ocidir_image_config_labels.
func (i *Image) ConfigLabels() ([]string, error) {
	var v **C.char
	if err := call("ocidir_image_config_labels", func() C.int { return C.ocidir_image_config_labels(i.p, &v) }); err != nil {
		return nil, err
	}
	return takeStrv(v), nil
}

// ConfigRaw calls ocidir_image_config_raw and copies the bytes.
func (i *Image) ConfigRaw() ([]byte, error) {
	var buf unsafe.Pointer
	var n C.size_t
	if err := call("ocidir_image_config_raw", func() C.int { return C.ocidir_image_config_raw(i.p, &buf, &n) }); err != nil {
		return nil, err
	}
	return C.GoBytes(buf, C.int(n)), nil
}

// LayerWriter is an ocidir_layer_writer_t.
type LayerWriter struct {
	p   *C.ocidir_layer_writer_t
	buf scratch
}

// LayerWriterNew calls ocidir_layer_writer_new.
func (d *Dir) LayerWriterNew(compression, level, threads int) (*LayerWriter, error) {
	var w *C.ocidir_layer_writer_t
	if err := call("ocidir_layer_writer_new", func() C.int {
		return C.ocidir_layer_writer_new(d.p, C.ocidir_compression_t(compression), C.int(level), C.int(threads), &w)
	}); err != nil {
		return nil, err
	}
	return &LayerWriter{p: w}, nil
}

// LayerWriterOptions are the fields of ocidir_layer_writer_options_t.
type LayerWriterOptions struct {
	Compression, Level, Threads, Alg int
	ZstdWindowLog                    int
	ZstdLong                         bool
}

// LayerWriterNewOpts calls ocidir_layer_writer_new_opts.  The options struct
// is a C struct in Go memory (it holds no pointer), filled with the
// library's defaults by ocidir_layer_writer_options_init first.
func (d *Dir) LayerWriterNewOpts(o LayerWriterOptions) (*LayerWriter, error) {
	var w *C.ocidir_layer_writer_t
	err := call("ocidir_layer_writer_new_opts", func() C.int {
		var co C.ocidir_layer_writer_options_t
		if rc := C.ocidir_layer_writer_options_init(&co, C.sizeof_ocidir_layer_writer_options_t); rc != 0 {
			return rc
		}
		co.compression = C.ocidir_compression_t(o.Compression)
		co.level = C.int(o.Level)
		co.threads = C.int(o.Threads)
		co.alg = C.ocidir_digest_alg_t(o.Alg)
		co.zstd_window_log = C.int(o.ZstdWindowLog)
		if o.ZstdLong {
			co.zstd_long = 1
		}
		return C.ocidir_layer_writer_new_opts(d.p, &co, &w)
	})
	if err != nil {
		return nil, err
	}
	return &LayerWriter{p: w}, nil
}

// Write calls ocidir_layer_writer_write, in chunks through the scratch buffer.
func (w *LayerWriter) Write(buf []byte) error {
	return writeChunks("ocidir_layer_writer_write", &w.buf, buf, func(p unsafe.Pointer, n C.size_t) C.int {
		return C.ocidir_layer_writer_write(w.p, p, n)
	})
}

// Commit calls ocidir_layer_writer_commit; the writer is gone afterwards.
func (w *LayerWriter) Commit() (digest string, size uint64, diffID string, err error) {
	var dg, di digestBuf
	var sz C.uint64_t
	if err := call("ocidir_layer_writer_commit", func() C.int { return C.ocidir_layer_writer_commit(w.p, dg.ptr(), &sz, di.ptr()) }); err != nil {
		return "", 0, "", err
	}
	return dg.String(), uint64(sz), di.String(), nil
}

// MediaType calls ocidir_layer_writer_media_type.
func (w *LayerWriter) MediaType() string { return C.GoString(C.ocidir_layer_writer_media_type(w.p)) }

// Abort calls ocidir_layer_writer_abort.
func (w *LayerWriter) Abort() { C.ocidir_layer_writer_abort(w.p) }

// LayerReader is an ocidir_layer_reader_t.
type LayerReader struct {
	p   *C.ocidir_layer_reader_t
	buf scratch
}

// LayerOpen calls ocidir_layer_open ("" diff_id: blob digest only).
func (d *Dir) LayerOpen(mediaType, digest string, size int64, diffID string) (*LayerReader, error) {
	a := newCstrings("ocidir_layer_open")
	defer a.free()
	mt, dg, di := a.str("media type", mediaType), a.str("digest", digest), a.opt("diff_id", diffID)
	var r *C.ocidir_layer_reader_t
	if err := a.call(func() C.int { return C.ocidir_layer_open(d.p, mt, dg, C.int64_t(size), di, &r) }); err != nil {
		return nil, err
	}
	return &LayerReader{p: r}, nil
}

// LayerReaderOptions are the fields of ocidir_layer_reader_options_t.
type LayerReaderOptions struct {
	MaxSize uint64 // 0: no bound
}

// readerOptions fills a C options struct (pointer-free, in Go memory).
func readerOptions(o LayerReaderOptions, co *C.ocidir_layer_reader_options_t) C.int {
	if rc := C.ocidir_layer_reader_options_init(co, C.sizeof_ocidir_layer_reader_options_t); rc != 0 {
		return rc
	}
	co.max_size = C.uint64_t(o.MaxSize)
	return 0
}

// LayerOpenOpts calls ocidir_layer_open_opts ("" diff_id: blob digest only).
func (d *Dir) LayerOpenOpts(mediaType, digest string, size int64, diffID string, o LayerReaderOptions) (*LayerReader, error) {
	a := newCstrings("ocidir_layer_open_opts")
	defer a.free()
	mt, dg, di := a.str("media type", mediaType), a.str("digest", digest), a.opt("diff_id", diffID)
	var r *C.ocidir_layer_reader_t
	if err := a.call(func() C.int {
		var co C.ocidir_layer_reader_options_t
		if rc := readerOptions(o, &co); rc != 0 {
			return rc
		}
		return C.ocidir_layer_open_opts(d.p, mt, dg, C.int64_t(size), di, &co, &r)
	}); err != nil {
		return nil, err
	}
	return &LayerReader{p: r}, nil
}

// LayerOpenOpts calls ocidir_image_layer_open_opts.
func (i *Image) LayerOpenOpts(index int, o LayerReaderOptions) (*LayerReader, error) {
	var r *C.ocidir_layer_reader_t
	if err := call("ocidir_image_layer_open_opts", func() C.int {
		var co C.ocidir_layer_reader_options_t
		if rc := readerOptions(o, &co); rc != 0 {
			return rc
		}
		return C.ocidir_image_layer_open_opts(i.p, C.size_t(index), &co, &r)
	}); err != nil {
		return nil, err
	}
	return &LayerReader{p: r}, nil
}

// LayerOpen calls ocidir_image_layer_open.
func (i *Image) LayerOpen(index int) (*LayerReader, error) {
	var r *C.ocidir_layer_reader_t
	if err := call("ocidir_image_layer_open", func() C.int { return C.ocidir_image_layer_open(i.p, C.size_t(index), &r) }); err != nil {
		return nil, err
	}
	return &LayerReader{p: r}, nil
}

// Read calls ocidir_layer_reader_read (len(buf) > 0) through the scratch
// buffer; 0 means verified end.
func (r *LayerReader) Read(buf []byte) (int, error) {
	return readChunk("ocidir_layer_reader_read", &r.buf, buf, func(p unsafe.Pointer, n C.size_t) C.ssize_t {
		return C.ocidir_layer_reader_read(r.p, p, n)
	})
}

// Close calls ocidir_layer_reader_close.
func (r *LayerReader) Close() { C.ocidir_layer_reader_close(r.p) }
