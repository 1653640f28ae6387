//! ocidir-rs-bench - the workloads of libocidir's benchmarks (bench/), run
//! through the `ocidir` crate 0.7.1 (ocidir-rs), so that each library row has
//! a row of the seed project beside it.
//!
//!   ocidir-rs-bench blob  [--size 1G] [--rounds 3] [--dir DIR] [--input FILE]
//!   ocidir-rs-bench layer [--size 256M] [--rounds 5] [--dir DIR] [--input FILE]
//!   ocidir-rs-bench fsck  [--blobs 2000] [--blob-size 1M] [--rounds 3] [--dir DIR]
//!   ocidir-rs-bench index [--entries 100000] [--rounds 11] [--dir DIR]
//!   ocidir-rs-bench many  [--layers 128] [--compression gzip|zstd|none] [--rounds 3] [--dir DIR]
//!   ocidir-rs-bench resolve LAYOUT TAG     (the "fresh process" row's child)
//!
//! Every input is generated here from the same fixed seed and by the same
//! procedure as the library's program generates it, so both sides work on the
//! same bytes (the input's sha256 is printed; bench_blob prints it as
//! "digest", bench_layer as "input sha256").  `--input FILE` uses a file
//! instead.  Each result line is
//!
//!   ocidir-rs ROW seconds=S stat=median|best min=S rounds=R bytes=N [...]
//!
//! with S the same statistic the library's program reports for its row.
//! Everything is made in a fresh directory under DIR (default /var/tmp),
//! removed at the end.  A benchmark, not a test: it exits 0 unless an
//! operation failed or a result did not verify.
//!
//! Copyright the libocidir authors.
//! SPDX-License-Identifier: Apache-2.0

use std::collections::HashMap;
use std::fs::{self, File};
use std::io::{self, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::Instant;

use ocidir::cap_std::{self, fs::Dir};
use ocidir::oci_spec::image::{
    Descriptor, HistoryBuilder, ImageConfiguration, ImageConfigurationBuilder, MediaType, Platform,
};
use ocidir::OciDir;

const SEED: u64 = 0x9e37_79b9_7f4a_7c15;
const CHUNK: usize = 1 << 20;

/* ---------------------------------------------------------------------------
 * Errors, the work directory, numbers.
 * ------------------------------------------------------------------------ */

static WORKDIR: Mutex<Option<PathBuf>> = Mutex::new(None);

fn cleanup() {
    if let Some(p) = WORKDIR.lock().unwrap().take() {
        let _ = fs::remove_dir_all(p);
    }
}

fn die(msg: &str) -> ! {
    eprintln!("ocidir-rs-bench: {msg}");
    cleanup();
    std::process::exit(1);
}

trait OrDie<T> {
    fn or_die(self, what: &str) -> T;
}

impl<T, E: std::fmt::Debug> OrDie<T> for Result<T, E> {
    fn or_die(self, what: &str) -> T {
        match self {
            Ok(v) => v,
            Err(e) => die(&format!("{what}: {e:?}")),
        }
    }
}

fn make_workdir(dir: &str, name: &str) -> PathBuf {
    let p = Path::new(dir).join(format!("{name}.{}", std::process::id()));
    fs::create_dir(&p).or_die(&format!("mkdir {}", p.display()));
    *WORKDIR.lock().unwrap() = Some(p.clone());
    p
}

fn sync_all() {
    unsafe { libc::sync() };
}

/// xorshift64*, as bench_xorshift64s() in bench/benchutil.c.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

fn parse_size(s: &str, what: &str) -> u64 {
    let (num, mult) = match s.chars().last() {
        Some('K') | Some('k') => (&s[..s.len() - 1], 1u64 << 10),
        Some('M') | Some('m') => (&s[..s.len() - 1], 1 << 20),
        Some('G') | Some('g') => (&s[..s.len() - 1], 1 << 30),
        _ => (s, 1),
    };
    match num.parse::<u64>() {
        Ok(n) if n > 0 => n * mult,
        _ => die(&format!("{what}: bad size: {s}")),
    }
}

fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let n = s.len();
    if n % 2 == 1 {
        s[n / 2]
    } else {
        (s[n / 2 - 1] + s[n / 2]) / 2.0
    }
}

fn minimum(v: &[f64]) -> f64 {
    v.iter().cloned().fold(f64::INFINITY, f64::min)
}

fn loadavg() -> String {
    fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

/// Options after the subcommand: `--name value` pairs.
struct Opts {
    map: HashMap<String, String>,
}

impl Opts {
    fn parse(args: &[String], known: &[&str], usage: &str) -> Opts {
        let mut map = HashMap::new();
        let mut i = 0;
        while i < args.len() {
            let a = &args[i];
            let (k, v) = if let Some((k, v)) = a.split_once('=') {
                (k.to_string(), v.to_string())
            } else if i + 1 < args.len() {
                i += 1;
                (a.clone(), args[i].clone())
            } else {
                (a.clone(), String::new())
            };
            if !known.contains(&k.as_str()) || v.is_empty() {
                eprintln!("usage: {usage}");
                std::process::exit(2);
            }
            map.insert(k, v);
            i += 1;
        }
        Opts { map }
    }
    fn get(&self, k: &str) -> Option<&str> {
        self.map.get(k).map(|s| s.as_str())
    }
    fn size(&self, k: &str, default: u64) -> u64 {
        self.get(k).map(|s| parse_size(s, k)).unwrap_or(default)
    }
    fn count(&self, k: &str, default: usize, max: usize) -> usize {
        match self.get(k) {
            None => default,
            Some(s) => match s.parse::<usize>() {
                Ok(n) if n >= 1 && n <= max => n,
                _ => die(&format!("{k} takes 1..{max}")),
            },
        }
    }
    fn dir(&self) -> String {
        self.get("--dir").unwrap_or("/var/tmp").to_string()
    }
}

/// One timed row: a time per round.
struct Row {
    name: &'static str,
    secs: Vec<f64>,
    extra: String,
}

impl Row {
    fn new(name: &'static str) -> Row {
        Row { name, secs: Vec::new(), extra: String::new() }
    }
    fn print(&self, best: bool, bytes: u64) {
        let s = if best { minimum(&self.secs) } else { median(&self.secs) };
        println!(
            "ocidir-rs {} seconds={:.6} stat={} min={:.6} rounds={} bytes={}{}{}",
            self.name,
            s,
            if best { "best" } else { "median" },
            minimum(&self.secs),
            self.secs.len(),
            bytes,
            if self.extra.is_empty() { "" } else { " " },
            self.extra
        );
    }
}

extern "C" {
    fn zlibVersion() -> *const libc::c_char;
}

fn print_header(what: &str) {
    let zlib = unsafe { std::ffi::CStr::from_ptr(zlibVersion()) }.to_string_lossy().into_owned();
    println!(
        "ocidir-rs-bench {what}: ocidir 0.7.1 (feature zstdmt); zstd library {} (content checksum off, \
         the zstd crate's default); zlib {}; {}",
        zstd::zstd_safe::version_string(),
        zlib,
        openssl::version::version()
    );
    let cpus = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
    let model = fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    println!("machine: {cpus} CPUs, {model}; load average at start {}", loadavg());
}

fn print_end(reproduce: &str) {
    println!("ocidir-rs load average at end {}", loadavg());
    println!(
        "reproduce: {} {reproduce}",
        std::env::current_exe().map(|p| p.display().to_string()).unwrap_or_else(|_| "ocidir-rs-bench".into())
    );
}

/* ---------------------------------------------------------------------------
 * Hashing, reading blobs back with verification, fsync.
 * ------------------------------------------------------------------------ */

fn hex(d: [u8; 32]) -> String {
    d.iter().map(|b| format!("{b:02x}")).collect()
}

fn sha256_file(path: &Path) -> (String, u64) {
    let mut f = File::open(path).or_die(&format!("open {}", path.display()));
    let mut h = openssl::sha::Sha256::new();
    let mut buf = vec![0u8; CHUNK];
    let mut n = 0u64;
    loop {
        let k = f.read(&mut buf).or_die(&format!("read {}", path.display()));
        if k == 0 {
            break;
        }
        h.update(&buf[..k]);
        n += k as u64;
    }
    (hex(h.finish()), n)
}

/// A reader that hashes what passes through it.
struct HashingReader<R> {
    inner: R,
    sha: openssl::sha::Sha256,
    n: u64,
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let k = self.inner.read(buf)?;
        self.sha.update(&buf[..k]);
        self.n += k as u64;
        Ok(k)
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Codec {
    None,
    Gzip,
    Zstd,
}

fn codec_of(mt: &MediaType) -> Codec {
    match mt {
        MediaType::ImageLayerGzip => Codec::Gzip,
        MediaType::ImageLayerZstd => Codec::Zstd,
        MediaType::ImageLayer => Codec::None,
        other => die(&format!("unexpected layer media type {other}")),
    }
}

/// What a user of ocidir-rs writes to read a layer back verified (the crate's
/// read_blob checks the size only): read_blob, decompress, hash both streams,
/// compare with the descriptor's digest and the diff_id.  Returns the number
/// of uncompressed bytes.
fn read_layer_verified(od: &OciDir, desc: &Descriptor, diff_id_hex: &str) -> u64 {
    let f = od.read_blob(desc).or_die(&format!("read_blob {}", desc.digest()));
    let tee = HashingReader { inner: f, sha: openssl::sha::Sha256::new(), n: 0 };
    let codec = codec_of(desc.media_type());
    let mut buf = vec![0u8; CHUNK];
    let mut usha = openssl::sha::Sha256::new();
    let mut total = 0u64;
    // An uncompressed layer is hashed once: its diff_id is its digest.
    let hash_content = codec != Codec::None;
    let mut pump = |r: &mut dyn Read| loop {
        let k = r.read(&mut buf).or_die(&format!("decompressing {}", desc.digest()));
        if k == 0 {
            break;
        }
        if hash_content {
            usha.update(&buf[..k]);
        }
        total += k as u64;
    };
    let mut tee = match codec {
        Codec::Gzip => {
            let mut d = flate2::bufread::GzDecoder::new(BufReader::with_capacity(128 << 10, tee));
            pump(&mut d);
            d.into_inner().into_inner() // what the BufReader held was hashed on its way in
        }
        Codec::Zstd => {
            let mut d = zstd::stream::read::Decoder::with_buffer(BufReader::with_capacity(128 << 10, tee))
                .or_die("zstd decoder");
            pump(&mut d);
            d.finish().into_inner()
        }
        Codec::None => {
            let mut t = tee;
            pump(&mut t);
            t
        }
    };
    io::copy(&mut tee, &mut io::sink()).or_die("reading a blob's end"); // trailing bytes count too
    let blob_hex = hex(tee.sha.finish());
    let want = desc.as_digest_sha256().unwrap_or("");
    if blob_hex != want || tee.n != desc.size() {
        die(&format!("blob {} hashes to sha256:{blob_hex} ({} bytes)", desc.digest(), tee.n));
    }
    let u = if hash_content { hex(usha.finish()) } else { blob_hex };
    if u != diff_id_hex {
        die(&format!("layer {} decompresses to sha256:{u}, diff_id sha256:{diff_id_hex}", desc.digest()));
    }
    total
}

/// ocidir-rs never fsyncs; the durable rows add what a user must do for a
/// blob to survive a crash once it is named: fsync the blob and its directory.
fn fsync_path(p: &Path) {
    File::open(p).and_then(|f| f.sync_all()).or_die(&format!("fsync {}", p.display()));
}

fn blob_path(layout: &Path, hex: &str) -> PathBuf {
    layout.join("blobs/sha256").join(hex)
}

fn open_layout(path: &Path, create: bool) -> OciDir {
    if create {
        fs::create_dir_all(path).or_die(&format!("mkdir {}", path.display()));
    }
    let d = Dir::open_ambient_dir(path, cap_std::ambient_authority()).or_die(&format!("open {}", path.display()));
    if create {
        OciDir::ensure(d).or_die("OciDir::ensure")
    } else {
        OciDir::open(d).or_die("OciDir::open")
    }
}

fn copy_into<W: Write>(w: &mut W, path: &Path, buf: &mut [u8]) {
    let mut f = File::open(path).or_die(&format!("open {}", path.display()));
    loop {
        let k = f.read(buf).or_die(&format!("read {}", path.display()));
        if k == 0 {
            break;
        }
        w.write_all(&buf[..k]).or_die("writing a blob");
    }
}

/* ---------------------------------------------------------------------------
 * Inputs: the same procedures as bench_blob.c and bench_layer.c.
 * ------------------------------------------------------------------------ */

/// bench_blob's source: SIZE bytes of xorshift64* output, little-endian words.
fn make_random_file(path: &Path, size: u64) {
    let mut f = File::create_new(path).or_die(&format!("create {}", path.display()));
    let mut rng = Rng(SEED);
    let mut buf = vec![0u8; CHUNK];
    let mut left = size;
    while left > 0 {
        for w in buf.chunks_exact_mut(8) {
            w.copy_from_slice(&rng.next().to_le_bytes());
        }
        let n = left.min(CHUNK as u64) as usize;
        f.write_all(&buf[..n]).or_die(&format!("write {}", path.display()));
        left -= n as u64;
    }
    f.sync_all().or_die(&format!("fsync {}", path.display()));
}

const WORDS: [&str; 64] = [
    "the", "of", "and", "to", "in", "is", "that", "for", "it", "as", "with", "was", "on", "be", "at", "by", "this",
    "had", "not", "are", "but", "from", "or", "have", "an", "they", "which", "one", "you", "were", "all", "we",
    "container", "image", "layer", "manifest", "digest", "blob", "config", "index", "tag", "root", "filesystem",
    "kernel", "process", "library", "function", "return", "error", "value", "struct", "const", "static", "include",
    "define", "#include", "printf", "size_t", "uint64_t", "void", "char", "int", "if", "else",
];

/// bench_layer's fill_block: 75 % text, 15 % random bytes, 10 % zeros.
fn fill_block(rng: &mut Rng, b: &mut [u8]) {
    let len = b.len();
    let kind = rng.next() % 100;
    if kind < 75 {
        let (mut n, mut col) = (0usize, 0usize);
        while n < len {
            let w = WORDS[(rng.next() % 64) as usize].as_bytes();
            for &c in w {
                if n >= len {
                    break;
                }
                b[n] = c;
                n += 1;
            }
            col += w.len() + 1;
            if n < len {
                b[n] = if col > 72 {
                    col = 0;
                    b'\n'
                } else {
                    b' '
                };
                n += 1;
            }
        }
    } else if kind < 90 {
        let mut i = 0;
        while i < len {
            let r = rng.next().to_le_bytes();
            let k = (len - i).min(8);
            b[i..i + k].copy_from_slice(&r[..k]);
            i += 8;
        }
    } else {
        b.fill(0);
    }
}

/// bench_layer's tar_header: ustar, uid/gid 0, owner "root", mtime 0.
fn tar_header(name: &str, typ: u8, mode: u32, size: u64) -> [u8; 512] {
    let mut h = [0u8; 512];
    let put = |h: &mut [u8; 512], off: usize, width: usize, s: &str| {
        let b = s.as_bytes();
        let k = b.len().min(width - 1);
        h[off..off + k].copy_from_slice(&b[..k]);
    };
    put(&mut h, 0, 100, name);
    put(&mut h, 100, 8, &format!("{mode:07o}"));
    put(&mut h, 108, 8, "0000000");
    put(&mut h, 116, 8, "0000000");
    put(&mut h, 124, 12, &format!("{size:011o}"));
    put(&mut h, 136, 12, "00000000000");
    h[156] = typ;
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    put(&mut h, 265, 32, "root");
    put(&mut h, 297, 32, "root");
    h[148..156].fill(b' ');
    let sum: u32 = h.iter().map(|&c| c as u32).sum();
    put(&mut h, 148, 8, &format!("{sum:06o}"));
    h[154] = 0; // six digits, NUL, and the space left, as snprintf leaves them
    h[155] = b' ';
    h
}

fn write_tar_end(f: &mut impl Write, mut total: u64) -> u64 {
    let padded = {
        let p = total + 1024;
        p + (10240 - p % 10240) % 10240
    };
    let zeros = vec![0u8; 10240];
    while total < padded {
        let n = (padded - total).min(zeros.len() as u64) as usize;
        f.write_all(&zeros[..n]).or_die("write tar end");
        total += n as u64;
    }
    total
}

/// bench_layer's make_input: a ustar archive of about SIZE bytes.  Returns
/// (its size, the number of files).
fn make_tar_input(path: &Path, size: u64) -> (u64, u32) {
    let mut f = io::BufWriter::with_capacity(CHUNK, File::create_new(path).or_die(&format!("create {}", path.display())));
    let mut rng = Rng(SEED);
    let mut buf = vec![0u8; CHUNK];
    let mut total = 0u64;
    let mut files = 0u32;
    f.write_all(&tar_header("data/", b'5', 0o755, 0)).or_die("write tar");
    total += 512;
    let end_blocks = 1024u64;
    while total + 512 + 4096 + end_blocks <= size {
        let mut fsize = (64 + rng.next() % 961) * 4096;
        let mut room = size - total - 512 - end_blocks;
        room -= room % 512;
        if fsize > room {
            fsize = room;
        }
        f.write_all(&tar_header(&format!("data/file-{files:05}.txt"), b'0', 0o644, fsize)).or_die("write tar");
        files += 1;
        total += 512;
        let mut left = fsize;
        while left > 0 {
            let n = left.min(CHUNK as u64) as usize;
            let mut off = 0;
            while off < n {
                let k = (n - off).min(4096);
                fill_block(&mut rng, &mut buf[off..off + k]);
                off += 4096;
            }
            f.write_all(&buf[..n]).or_die("write tar");
            left -= n as u64;
        }
        total += fsize;
    }
    let total = write_tar_end(&mut f, total);
    let file = f.into_inner().map_err(|e| e.into_error()).or_die("write tar");
    file.sync_all().or_die("fsync tar");
    (total, files)
}

/* ---------------------------------------------------------------------------
 * blob: put (plain and durable), verified read.
 * ------------------------------------------------------------------------ */

fn cmd_blob(args: &[String]) {
    let o = Opts::parse(args, &["--size", "--rounds", "--dir", "--input"], "ocidir-rs-bench blob [--size 1G] [--rounds 3] [--dir DIR] [--input FILE]");
    let dir = o.dir();
    let rounds = o.count("--rounds", 3, 100);
    let wd = make_workdir(&dir, "ocidir-rs-bench-blob");
    print_header("blob");
    let src = match o.get("--input") {
        Some(p) => PathBuf::from(p),
        None => {
            let p = wd.join("source");
            make_random_file(&p, o.size("--size", 1 << 30));
            p
        }
    };
    let (digest, size) = sha256_file(&src); // also brings the source into the page cache
    println!(
        "input: {} ({} bytes, {}), sha256 {digest}; best of {rounds} interleaved rounds",
        src.display(),
        size,
        if o.get("--input").is_some() { "given" } else { "bench_blob's source, same seed" }
    );
    let layout = wd.join("layout");
    let od = open_layout(&layout, true);
    let blobs = layout.join("blobs/sha256");
    let (mut put, mut durable, mut read) = (Row::new("blob-put"), Row::new("blob-put-durable"), Row::new("blob-read-verified"));
    put.extra = "fsync=no".into();
    durable.extra = "fsync=blob+dir".into();
    read.extra = "verify=sha256".into();
    let mut buf = vec![0u8; CHUNK];
    for _ in 0..rounds {
        let _ = fs::remove_file(blob_path(&layout, &digest));
        sync_all();
        let t0 = Instant::now();
        let mut w = od.create_blob().or_die("create_blob");
        copy_into(&mut w, &src, &mut buf);
        let blob = w.complete().or_die("BlobWriter::complete");
        put.secs.push(t0.elapsed().as_secs_f64());
        fsync_path(&blob_path(&layout, &digest));
        fsync_path(&blobs);
        durable.secs.push(t0.elapsed().as_secs_f64());
        if blob.sha256().digest() != digest || blob.size() != size {
            die(&format!("ocidir-rs stored sha256:{} ({} bytes)", blob.sha256().digest(), blob.size()));
        }
        let desc = blob.descriptor().media_type(MediaType::ImageLayer).build().or_die("descriptor");
        let t0 = Instant::now();
        let n = read_layer_verified(&od, &desc, &digest);
        read.secs.push(t0.elapsed().as_secs_f64());
        if n != size {
            die("the verified read returned a wrong number of bytes");
        }
    }
    println!();
    for r in [&put, &durable, &read] {
        r.print(true, size);
    }
    let mut rep = format!("blob --rounds {rounds} --dir {dir}");
    match o.get("--input") {
        Some(p) => rep += &format!(" --input {p}"),
        None => rep += &format!(" --size {size}"),
    }
    print_end(&rep);
}

/* ---------------------------------------------------------------------------
 * layer: gzip -6 and zstd -3 (1 and 2 workers), read back verified.
 * ------------------------------------------------------------------------ */

#[derive(Clone, Copy)]
enum Comp {
    Gzip6,
    Zstd3,
    Zstd3x2,
    Plain,
}

/// Write a layer from FILE through ocidir-rs; returns the layer.
fn write_layer(od: &OciDir, comp: Comp, file: &Path, buf: &mut [u8]) -> ocidir::Layer {
    match comp {
        Comp::Gzip6 => {
            let mut w = od.create_gzip_layer(Some(flate2::Compression::new(6))).or_die("create_gzip_layer");
            copy_into(&mut w, file, buf);
            w.complete().or_die("LayerWriter::complete")
        }
        Comp::Zstd3 => {
            let mut w = od.create_layer_zstd(Some(3)).or_die("create_layer_zstd");
            copy_into(&mut w, file, buf);
            w.complete().or_die("LayerWriter::complete")
        }
        Comp::Zstd3x2 => {
            let mut w = od.create_layer_zstd_multithread(Some(3), 2).or_die("create_layer_zstd_multithread");
            copy_into(&mut w, file, buf);
            w.complete().or_die("LayerWriter::complete")
        }
        Comp::Plain => {
            let mut w = od.create_uncompressed_layer().or_die("create_uncompressed_layer");
            copy_into(&mut w, file, buf);
            w.complete().or_die("LayerWriter::complete")
        }
    }
}

fn cmd_layer(args: &[String]) {
    let o = Opts::parse(args, &["--size", "--rounds", "--dir", "--input"], "ocidir-rs-bench layer [--size 256M] [--rounds 5] [--dir DIR] [--input FILE]");
    let dir = o.dir();
    let rounds = o.count("--rounds", 5, 100);
    let requested = o.size("--size", 256 << 20);
    if requested < 64 << 10 {
        die("--size: at least 64K");
    }
    let wd = make_workdir(&dir, "ocidir-rs-bench-layer");
    print_header("layer");
    let input = match o.get("--input") {
        Some(p) => PathBuf::from(p),
        None => {
            let p = wd.join("input.tar");
            let (_, files) = make_tar_input(&p, requested);
            println!("input: a tar of {files} generated files (bench_layer's input, same seed)");
            p
        }
    };
    let (diff_id, size) = sha256_file(&input);
    println!("input: {} {} bytes, input sha256: {diff_id}; {rounds} interleaved rounds, medians\n", input.display(), size);
    let layout = wd.join("layout");
    let od = open_layout(&layout, true);
    let blobs = layout.join("blobs/sha256");
    let mut rows: Vec<(Comp, Row, Row)> = vec![
        (Comp::Gzip6, Row::new("layer-gzip-6-threads-1"), Row::new("layer-gzip-6-threads-1-durable")),
        (Comp::Zstd3, Row::new("layer-zstd-3-threads-0"), Row::new("layer-zstd-3-threads-0-durable")),
        (Comp::Zstd3x2, Row::new("layer-zstd-3-threads-2"), Row::new("layer-zstd-3-threads-2-durable")),
    ];
    // after its compression, in the same round, as bench_layer does: the
    // gzip blob and the single-threaded zstd blob read back verified
    let mut verify = [Some(Row::new("layer-gunzip-verify")), Some(Row::new("layer-unzstd-verify")), None];
    let mut descs: Vec<Option<Descriptor>> = vec![None; rows.len()];
    let mut buf = vec![0u8; CHUNK];
    for _ in 0..rounds {
        for (i, (comp, row, drow)) in rows.iter_mut().enumerate() {
            for d in descs.iter().flatten() {
                let _ = fs::remove_file(blob_path(&layout, d.as_digest_sha256().unwrap()));
            }
            sync_all();
            let t0 = Instant::now();
            let layer = write_layer(&od, *comp, &input, &mut buf);
            row.secs.push(t0.elapsed().as_secs_f64());
            let bhex = layer.blob.sha256().digest().to_string();
            fsync_path(&blob_path(&layout, &bhex));
            fsync_path(&blobs);
            drow.secs.push(t0.elapsed().as_secs_f64());
            if layer.uncompressed_sha256.digest() != diff_id {
                die(&format!("the {} layer's diff_id sha256:{} is not the input's", row.name, layer.uncompressed_sha256.digest()));
            }
            row.extra = format!("out_bytes={} blob=sha256:{bhex}", layer.blob.size());
            drow.extra = "fsync=blob+dir".into();
            let d = layer.descriptor().build().or_die("descriptor");
            if let Some(vrow) = verify[i].as_mut() {
                let t0 = Instant::now();
                let n = read_layer_verified(&od, &d, &diff_id);
                vrow.secs.push(t0.elapsed().as_secs_f64());
                if n != size {
                    die(&format!("{} gave {n} bytes, expected {size}", vrow.name));
                }
                vrow.extra = "verify=blob-digest+diff_id".into();
            }
            descs[i] = Some(d);
        }
        print!(".");
        io::stdout().flush().ok();
    }
    println!("\n");
    for (_, r, d) in &rows {
        r.print(false, size);
        d.print(false, size);
    }
    for v in verify.iter().flatten() {
        v.print(false, size);
    }
    println!("(gzip: flate2 over zlib, one thread: ocidir-rs has no parallel gzip; zstd threads 0: no workers)");
    let mut rep = format!("layer --rounds {rounds} --dir {dir}");
    match o.get("--input") {
        Some(p) => rep += &format!(" --input {p}"),
        None => rep += &format!(" --size {requested}"),
    }
    print_end(&rep);
}

/* ---------------------------------------------------------------------------
 * fsck: bench_house's layout of N pseudo-random blobs.
 * ------------------------------------------------------------------------ */

fn cmd_fsck(args: &[String]) {
    let o = Opts::parse(args, &["--blobs", "--blob-size", "--rounds", "--dir"], "ocidir-rs-bench fsck [--blobs 2000] [--blob-size 1M] [--rounds 3] [--dir DIR]");
    let dir = o.dir();
    let n = o.count("--blobs", 2000, 10_000_000);
    let bsize = o.size("--blob-size", 1 << 20) as usize;
    let rounds = o.count("--rounds", 3, 100);
    let wd = make_workdir(&dir, "ocidir-rs-bench-fsck");
    print_header("fsck");
    let layout = wd.join("fsck");
    let od = open_layout(&layout, true);
    // The same blobs as bench_house's make_fsck_layout: one xorshift64* stream,
    // size/8 + 1 words per blob, the first SIZE bytes of them.
    let mut rng = Rng(SEED);
    let mut buf = vec![0u8; (bsize / 8 + 1) * 8];
    let mut manifest = od.new_empty_manifest().or_die("new_empty_manifest").build().or_die("manifest");
    for _ in 0..n {
        for w in buf.chunks_exact_mut(8) {
            w.copy_from_slice(&rng.next().to_le_bytes());
        }
        let mut w = od.create_blob().or_die("create_blob");
        w.write_all(&buf[..bsize]).or_die("write blob");
        let blob = w.complete().or_die("BlobWriter::complete");
        let d = blob
            .descriptor()
            .media_type(MediaType::Other("application/octet-stream".into()))
            .build()
            .or_die("descriptor");
        manifest.layers_mut().push(d);
    }
    od.insert_manifest(manifest, Some("bench"), Platform::default()).or_die("insert_manifest");
    let total = n as u64 * bsize as u64;
    println!("fsck: {n} blobs of {bsize} bytes (bench_house's, same seed), one manifest with the empty config; {rounds} rounds, medians");
    sync_all();
    let check = |secs: &mut Vec<f64>| {
        let t0 = Instant::now();
        let od = open_layout(&layout, false);
        let count = od.fsck().or_die("fsck");
        secs.push(t0.elapsed().as_secs_f64());
        if count != n as u64 + 2 {
            die(&format!("fsck checked {count} blobs, expected {}", n + 2));
        }
    };
    check(&mut Vec::new()); // untimed: the blobs into the page cache, as bench_house has them
    let mut row = Row::new("fsck");
    row.extra = format!("blobs={} threads=1", n + 2);
    for _ in 0..rounds {
        check(&mut row.secs);
    }
    row.print(false, total);
    print_end(&format!("fsck --blobs {n} --blob-size {bsize} --rounds {rounds} --dir {dir}"));
}

/* ---------------------------------------------------------------------------
 * index: bench_index's layout of N tagged entries; open + tag lookup.
 * ------------------------------------------------------------------------ */

fn goarch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "arm" => "arm",
        "x86" => "386",
        "powerpc64" => "ppc64le",
        other => other,
    }
}

fn put_bytes(od: &OciDir, b: &[u8]) -> String {
    let mut w = od.create_blob().or_die("create_blob");
    w.write_all(b).or_die("write blob");
    w.complete().or_die("BlobWriter::complete").sha256().digest().to_string()
}

fn cmd_resolve(args: &[String]) {
    if args.len() != 2 {
        eprintln!("usage: ocidir-rs-bench resolve LAYOUT TAG");
        std::process::exit(2);
    }
    let d = match Dir::open_ambient_dir(&args[0], cap_std::ambient_authority()) {
        Ok(d) => d,
        Err(e) => die(&format!("open {}: {e}", args[0])),
    };
    let od = OciDir::open(d).or_die("OciDir::open");
    match od.find_manifest_descriptor_with_tag(&args[1]).or_die("find_manifest_descriptor_with_tag") {
        Some(desc) => println!("{}", desc.digest()),
        None => die(&format!("no tag {}", args[1])),
    }
}

fn cmd_index(args: &[String]) {
    let o = Opts::parse(args, &["--entries", "--rounds", "--dir"], "ocidir-rs-bench index [--entries 100000] [--rounds 11] [--dir DIR]");
    let dir = o.dir();
    let entries = o.count("--entries", 100_000, 999_999);
    let rounds = o.count("--rounds", 11, 1000);
    let wd = make_workdir(&dir, "ocidir-rs-bench-index");
    print_header("index");
    let layout = wd.join("layout");
    let od = open_layout(&layout, true);
    // bench_index's layout: a layer made by tar(1), a config, 4 manifests
    // differing by one annotation, and index.json written directly.
    let tree = wd.join("tree");
    fs::create_dir(&tree).or_die("mkdir tree");
    fs::write(tree.join("hello.txt"), "hello from bench_index\n").or_die("write hello.txt");
    let tarfile = wd.join("layer.tar");
    let st = Command::new("tar")
        .args(["--mtime=@0", "--owner=0", "--group=0", "--numeric-owner", "-C"])
        .arg(&tree)
        .arg("-cf")
        .arg(&tarfile)
        .arg("hello.txt")
        .status()
        .or_die("tar");
    if !st.success() {
        die("tar failed");
    }
    let tar = fs::read(&tarfile).or_die("read layer.tar");
    let layer = put_bytes(&od, &tar);
    let config = format!(
        "{{\"architecture\":\"{}\",\"config\":{{}},\"created\":\"2024-01-01T00:00:00Z\",\
         \"history\":[{{\"created\":\"2024-01-01T00:00:00Z\",\"created_by\":\"bench_index\"}}],\
         \"os\":\"linux\",\"rootfs\":{{\"diff_ids\":[\"sha256:{layer}\"],\"type\":\"layers\"}}}}",
        goarch()
    );
    let config_digest = put_bytes(&od, config.as_bytes());
    let mut manifests = Vec::new();
    for i in 0..4 {
        let m = format!(
            "{{\"annotations\":{{\"org.example.bench.variant\":\"{i}\"}},\
             \"config\":{{\"digest\":\"sha256:{config_digest}\",\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"size\":{}}},\
             \"layers\":[{{\"digest\":\"sha256:{layer}\",\"mediaType\":\"application/vnd.oci.image.layer.v1.tar\",\"size\":{}}}],\
             \"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"schemaVersion\":2}}",
            config.len(),
            tar.len()
        );
        manifests.push((put_bytes(&od, m.as_bytes()), m.len()));
    }
    let tmp = layout.join("index.json.tmp");
    {
        let mut f = io::BufWriter::with_capacity(CHUNK, File::create(&tmp).or_die("create index.json.tmp"));
        f.write_all(b"{\"manifests\":[").unwrap();
        for i in 0..entries {
            let (d, s) = &manifests[i % 4];
            write!(
                f,
                "{}{{\"annotations\":{{\"org.opencontainers.image.ref.name\":\"tag-{i:06}\"}},\
                 \"digest\":\"sha256:{d}\",\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"size\":{s}}}",
                if i > 0 { "," } else { "" }
            )
            .or_die("write index.json.tmp");
        }
        f.write_all(b"],\"mediaType\":\"application/vnd.oci.image.index.v1+json\",\"schemaVersion\":2}").or_die("write index.json.tmp");
        let f = f.into_inner().map_err(|e| e.into_error()).or_die("write index.json.tmp");
        f.sync_all().or_die("fsync index.json.tmp");
    }
    fs::rename(&tmp, layout.join("index.json")).or_die("rename index.json");
    let index_len = fs::metadata(layout.join("index.json")).or_die("stat index.json").len();
    let last_tag = format!("tag-{:06}", entries - 1);
    let want = format!("sha256:{}", manifests[(entries - 1) % 4].0);
    println!("index.json: {entries} entries, {index_len} bytes (bench_index's layout); tag {last_tag} (the last); {rounds} interleaved rounds, medians");

    let exe = std::env::current_exe().or_die("current_exe");
    let fresh = || {
        let t0 = Instant::now();
        let out = Command::new(&exe)
            .arg("resolve")
            .arg(&layout)
            .arg(&last_tag)
            .stderr(Stdio::inherit())
            .output()
            .or_die("spawning the resolve child");
        let secs = t0.elapsed().as_secs_f64();
        if !out.status.success() || String::from_utf8_lossy(&out.stdout).trim() != want {
            die("the resolve child failed or named the wrong manifest");
        }
        secs
    };
    let lookup = || {
        let t0 = Instant::now();
        let od = open_layout(&layout, false);
        let d = od.find_manifest_descriptor_with_tag(&last_tag).or_die("find_manifest_descriptor_with_tag");
        let secs = t0.elapsed().as_secs_f64();
        match d {
            Some(d) if d.digest().to_string() == want => secs,
            _ => die("find_manifest_descriptor_with_tag named the wrong manifest"),
        }
    };
    let manifest = || {
        let t0 = Instant::now();
        let od = open_layout(&layout, false);
        let m = od.find_manifest_with_tag(&last_tag).or_die("find_manifest_with_tag");
        let secs = t0.elapsed().as_secs_f64();
        match m {
            Some(m) if m.layers().len() == 1 => secs,
            _ => die("find_manifest_with_tag found no manifest"),
        }
    };
    // once each, checked, untimed
    fresh();
    lookup();
    manifest();
    let mut rows = [Row::new("index-open-lookup"), Row::new("index-open-manifest"), Row::new("index-lookup-fresh-process")];
    rows[0].extra = "api=OciDir::open+find_manifest_descriptor_with_tag".into();
    rows[1].extra = "api=OciDir::open+find_manifest_with_tag".into();
    rows[2].extra = "api=resolve-child(spawn+exec+open+find_manifest_descriptor_with_tag)".into();
    for _ in 0..rounds {
        rows[0].secs.push(lookup());
        rows[1].secs.push(manifest());
        rows[2].secs.push(fresh());
    }
    println!();
    for r in &rows {
        r.print(false, index_len);
    }
    print_end(&format!("index --entries {entries} --rounds {rounds} --dir {dir}"));
}

/* ---------------------------------------------------------------------------
 * many: an image of L layers built from L small tars, read back verified.
 * ------------------------------------------------------------------------ */

/// The many-layer workload (printed in full by the program): one
/// xorshift64* stream seeded as the other inputs; for each tar in turn, a
/// size of (16 + r % 241) * 4096 bytes (64 KiB..1 MiB) from the next value,
/// then that many bytes in 4 KiB blocks as bench_layer's (fill_block); the
/// tar holds "layer-NNN/" (a directory) and "layer-NNN/data" (the file),
/// ustar, then two zero blocks, padded to a 10240-byte record.
fn make_many_tars(dir: &Path, layers: usize) -> (Vec<PathBuf>, u64, u64, String) {
    fs::create_dir(dir).or_die("mkdir tars");
    let mut rng = Rng(SEED);
    let mut paths = Vec::new();
    let (mut content, mut total) = (0u64, 0u64);
    let mut all = openssl::sha::Sha256::new();
    for i in 0..layers {
        let fsize = (16 + rng.next() % 241) * 4096;
        let mut data = vec![0u8; fsize as usize];
        for b in data.chunks_mut(4096) {
            fill_block(&mut rng, b);
        }
        let mut t = Vec::with_capacity(fsize as usize + 12288);
        t.extend_from_slice(&tar_header(&format!("layer-{i:03}/"), b'5', 0o755, 0));
        t.extend_from_slice(&tar_header(&format!("layer-{i:03}/data"), b'0', 0o644, fsize));
        t.extend_from_slice(&data);
        let len = write_tar_end(&mut t, 1024 + fsize);
        debug_assert_eq!(len as usize, t.len());
        all.update(&t);
        let p = dir.join(format!("layer-{i:03}.tar"));
        fs::write(&p, &t).or_die(&format!("write {}", p.display()));
        content += fsize;
        total += t.len() as u64;
        paths.push(p);
    }
    (paths, content, total, hex(all.finish()))
}

/// Build the 128-layer image's kind: one layer per tar, in order, each with a
/// history entry, then the manifest and config, tagged "many", into a new
/// layout at `layout`.
fn build_many(layout: &Path, comp: Comp, tars: &[PathBuf], buf: &mut [u8]) -> Descriptor {
    let od = open_layout(layout, true);
    let mut manifest = od.new_empty_manifest().or_die("new_empty_manifest").build().or_die("manifest");
    let mut config: ImageConfiguration = ImageConfigurationBuilder::default().build().or_die("config");
    for (i, t) in tars.iter().enumerate() {
        let layer = write_layer(&od, comp, t, buf);
        let h = HistoryBuilder::default()
            .created("1970-01-01T00:00:00Z")
            .created_by(format!("layer-{i:03}"))
            .build()
            .or_die("history");
        od.push_layer_with_history(&mut manifest, &mut config, layer, Some(h));
    }
    od.insert_manifest_and_config(manifest, config, Some("many"), Platform::default())
        .or_die("insert_manifest_and_config")
}

/// Read the image tagged "many" back: every layer to its end, both digests
/// checked.  Returns the uncompressed bytes read.
fn read_many(layout: &Path, layers: usize) -> u64 {
    let od = open_layout(layout, false);
    let m = od.find_manifest_with_tag("many").or_die("find_manifest_with_tag");
    let m = m.unwrap_or_else(|| die("tag many not found"));
    let cfg: ImageConfiguration = od.read_json_blob(m.config()).or_die("read_json_blob(config)");
    let diff_ids = cfg.rootfs().diff_ids();
    if diff_ids.len() != layers || m.layers().len() != layers {
        die("the image read back has the wrong number of layers");
    }
    let mut n = 0u64;
    for (l, d) in m.layers().iter().zip(diff_ids) {
        n += read_layer_verified(&od, l, d.strip_prefix("sha256:").unwrap_or(d));
    }
    n
}

/// Build one image from the tars given (`--tars DIR`: its `*.tar` files in name
/// order) into a fresh layout (`--layout DIR`), then read it back verified, once:
/// the mode bench_many's `--peer` runs after each of its own rounds.  Prints
/// `build_seconds S` and `read_seconds S` (no fsync, as the crate writes).
fn cmd_many_once(o: &Opts, comp: Comp) {
    let tardir = PathBuf::from(o.get("--tars").unwrap());
    let layout = PathBuf::from(o.get("--layout").unwrap_or_else(|| die("--tars needs --layout DIR")));
    if let Some(l) = o.get("--level") {
        if l != "6" || !matches!(comp, Comp::Gzip6 | Comp::Plain) {
            die("--level: only gzip level 6 (or none) is built by this program");
        }
    }
    let mut tars: Vec<PathBuf> = fs::read_dir(&tardir)
        .or_die("readdir --tars")
        .map(|e| e.or_die("readdir --tars").path())
        .filter(|p| p.extension().map_or(false, |x| x == "tar"))
        .collect();
    tars.sort();
    if tars.is_empty() {
        die("--tars: no *.tar file");
    }
    let mut buf = vec![0u8; CHUNK];
    let t0 = Instant::now();
    build_many(&layout, comp, &tars, &mut buf);
    println!("build_seconds {:.6}", t0.elapsed().as_secs_f64());
    let t0 = Instant::now();
    let n = read_many(&layout, tars.len());
    println!("read_seconds {:.6}", t0.elapsed().as_secs_f64());
    println!("read_bytes {n}");
}

fn cmd_many(args: &[String]) {
    let o = Opts::parse(args, &["--layers", "--compression", "--rounds", "--dir", "--tars", "--layout", "--level"], "ocidir-rs-bench many [--layers 128] [--compression gzip|zstd|none] [--rounds 3] [--dir DIR] | many --tars DIR --layout DIR [--compression gzip|none] [--level 6]");
    let dir = o.dir();
    let layers = o.count("--layers", 128, 10_000);
    let rounds = o.count("--rounds", 3, 100);
    let compression = o.get("--compression").unwrap_or("gzip").to_string();
    let comp = match compression.as_str() {
        "gzip" => Comp::Gzip6,
        "zstd" => Comp::Zstd3,
        "none" => Comp::Plain,
        _ => die("--compression: gzip, zstd or none"),
    };
    if o.get("--tars").is_some() {
        return cmd_many_once(&o, comp);
    }
    let wd = make_workdir(&dir, "ocidir-rs-bench-many");
    print_header("many");
    let (tars, content, total, all) = make_many_tars(&wd.join("tars"), layers);
    println!(
        "workload: {layers} tars; xorshift64* seed 0x9e3779b97f4a7c15, one stream for all tars in order; tar i: \
         file size (16 + r % 241) * 4096 bytes (64 KiB..1 MiB, r the next value), then the file's content in 4 KiB \
         blocks as bench_layer's (75 % text, 15 % random, 10 % zeros); ustar entries \"layer-%03d/\" (dir, 0755) and \
         \"layer-%03d/data\" (0644, uid/gid 0, mtime 0), two zero blocks, padded to 10240 bytes"
    );
    println!("workload: {content} content bytes, {total} tar bytes; sha256 of the {layers} tars concatenated {all}");
    println!(
        "layers: {} ; image: empty-config manifest from OciDir::new_empty_manifest, a config written with \
         insert_manifest_and_config, tag \"many\"; {rounds} interleaved rounds, medians",
        match comp {
            Comp::Gzip6 => "gzip -6 (create_gzip_layer, one thread)",
            Comp::Zstd3 => "zstd -3 (create_layer_zstd, no workers)",
            _ => "uncompressed (create_uncompressed_layer)",
        }
    );
    for t in &tars {
        sha256_file(t); // into the page cache
    }
    let (mut build, mut durable, mut read) = (Row::new("many-build"), Row::new("many-build-durable"), Row::new("many-read-verified"));
    build.extra = format!("layers={layers} compression={compression} fsync=no");
    durable.extra = format!("layers={layers} compression={compression} fsync=every-blob+blobs-dir+index.json+dir");
    read.extra = format!("layers={layers} verify=blob-digest+diff_id");
    let mut buf = vec![0u8; CHUNK];
    for r in 0..rounds {
        let layout = wd.join(format!("layout-{r}"));
        sync_all();
        let t0 = Instant::now();
        let mdesc = build_many(&layout, comp, &tars, &mut buf);
        build.secs.push(t0.elapsed().as_secs_f64());
        let blobs = layout.join("blobs/sha256");
        for e in fs::read_dir(&blobs).or_die("readdir blobs") {
            fsync_path(&e.or_die("readdir blobs").path());
        }
        fsync_path(&blobs);
        fsync_path(&layout.join("index.json"));
        fsync_path(&layout);
        durable.secs.push(t0.elapsed().as_secs_f64());

        let t0 = Instant::now();
        let n = read_many(&layout, layers);
        read.secs.push(t0.elapsed().as_secs_f64());
        if n != total {
            die(&format!("read back {n} bytes, expected {total}"));
        }
        if r == 0 {
            println!("image manifest {} ({} bytes)", mdesc.digest(), mdesc.size());
        }
        fs::remove_dir_all(&layout).or_die("remove layout");
        print!(".");
        io::stdout().flush().ok();
    }
    println!("\n");
    for r in [&build, &durable, &read] {
        r.print(false, total);
    }
    print_end(&format!("many --layers {layers} --compression {compression} --rounds {rounds} --dir {dir}"));
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let usage = "usage: ocidir-rs-bench blob|layer|fsck|index|many [OPTIONS] | resolve LAYOUT TAG";
    if args.len() < 2 {
        eprintln!("{usage}");
        std::process::exit(2);
    }
    let rest = &args[2..];
    match args[1].as_str() {
        "blob" => cmd_blob(rest),
        "layer" => cmd_layer(rest),
        "fsck" => cmd_fsck(rest),
        "index" => cmd_index(rest),
        "many" => cmd_many(rest),
        "resolve" => {
            cmd_resolve(rest);
            return;
        }
        _ => {
            eprintln!("{usage}");
            std::process::exit(2);
        }
    }
    io::stdout().flush().ok();
    cleanup();
}
