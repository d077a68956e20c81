//! Failover with real processes on 127.0.0.1: `understudy-replica`
//! receives the checkpoints of the kv-cache example over QUIC (mutual
//! TLS), the primary is killed with SIGKILL, the replica takes over on the
//! same address with the data, and a primary that comes back is fenced.
//!
//! In the default output-commit mode no reply leaves the primary before
//! the replica holds the epoch that produced it, so every write a client
//! saw acknowledged must be on the replica after the kill, wherever the
//! kill lands: clients write without pause and the kill comes at a
//! pseudo-random moment, round after round.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("understudy-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The port in the first line a process prints (`... listening on H:P`).
fn announced_port(line: &str) -> u16 {
    line.trim()
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no port in {line:?}"))
}

/// Starts `understudy-replica` with `args` and reads the first `lines`
/// lines it prints on stderr (its address first, then the metrics
/// address when asked for); the rest is drained. Without `certs`, `args`
/// choose the insecure mode.
fn spawn_replica(
    dir: &Path,
    certs: Option<&Path>,
    args: &[&str],
    lines: usize,
) -> (Proc, Vec<String>) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_understudy-replica"));
    command.args(args).arg("--data-dir").arg(dir);
    if let Some(certs) = certs {
        command.arg("--certs").arg(certs);
    }
    let mut child = command
        .env(
            "RUST_LOG",
            std::env::var("RUST_LOG").unwrap_or_else(|_| "off".into()),
        )
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting understudy-replica");
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let mut out = Vec::new();
    for _ in 0..lines {
        let mut line = String::new();
        err.read_line(&mut line).unwrap();
        out.push(line);
    }
    // Keep draining its stderr so it never blocks on a full pipe (into
    // DIR.log, read it with RUST_LOG=info when a test fails).
    let mut log = std::fs::File::create(dir.with_extension("log")).unwrap();
    std::thread::spawn(move || std::io::copy(&mut err, &mut log));
    (Proc(child), out)
}

/// The replica on an ephemeral UDP port; returns it and its port.
fn replica(dir: &Path, certs: &Path) -> (Proc, u16) {
    replica_acking(dir, certs, "received")
}

/// [`replica`] at acknowledgement level `ack` (`received`, `fsynced`).
fn replica_acking(dir: &Path, certs: &Path, ack: &str) -> (Proc, u16) {
    let (proc_, lines) = spawn_replica(
        dir,
        Some(certs),
        &[
            "--listen",
            "127.0.0.1:0",
            "--failure-timeout",
            "300ms",
            "--ack",
            ack,
        ],
        1,
    );
    (proc_, announced_port(&lines[0]))
}

/// The kv-cache example replicating to `replica_port`, on an ephemeral
/// TCP port; returns it and its port.
fn primary(certs: &Path, replica_port: u16, consistency: &str) -> (Proc, u16) {
    let (proc_, port, _) = spawn_primary(
        &[
            "--consistency",
            consistency,
            "--replicate-to",
            &format!("127.0.0.1:{replica_port}"),
            "--certs",
            &certs.display().to_string(),
            "--checkpoint-every",
            "10ms",
        ],
        0,
    );
    (proc_, port)
}

/// `understudy run OPTIONS kv-cache --port 0`; returns the process, the
/// port it announced, and the first `stderr_lines` lines of its stderr
/// (the rest is drained).
fn spawn_primary(options: &[&str], stderr_lines: usize) -> (Proc, u16, Vec<String>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_understudy"))
        .arg("run")
        .args(options)
        .arg(format!(
            "{}/examples/kv-cache/main.lua",
            env!("CARGO_MANIFEST_DIR")
        ))
        .args(["--port", "0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting understudy run");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(line.starts_with("kv-cache listening"), "{line}");
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let mut lines = Vec::new();
    for _ in 0..stderr_lines {
        let mut l = String::new();
        err.read_line(&mut l).unwrap();
        lines.push(l);
    }
    // With RUST_LOG set, its log goes to understudy-primary-PID.log in the
    // temporary directory.
    let log: Box<dyn Write + Send> = if std::env::var_os("RUST_LOG").is_some() {
        let path = std::env::temp_dir().join(format!("understudy-primary-{}.log", child.id()));
        Box::new(std::fs::File::create(path).unwrap())
    } else {
        Box::new(std::io::sink())
    };
    std::thread::spawn(move || {
        let mut log = log;
        std::io::copy(&mut err, &mut log)
    });
    (Proc(child), announced_port(&line), lines)
}

/// One RESP command on a fresh connection; None if the server is not there.
fn command(port: u16, args: &[&str]) -> Option<String> {
    command_waiting(port, args, Duration::from_secs(5))
}

/// A command in RESP.
fn resp(args: &[&str]) -> String {
    let mut req = format!("*{}\r\n", args.len());
    for a in args {
        req.push_str(&format!("${}\r\n{a}\r\n", a.len()));
    }
    req
}

/// [`command`], waiting up to `wait` for the reply.
fn command_waiting(port: u16, args: &[&str], wait: Duration) -> Option<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(wait)).ok()?;
    s.write_all(resp(args).as_bytes()).ok()?;
    let mut buf = [0u8; 512];
    let n = s.read(&mut buf).ok()?;
    if n == 0 {
        return None;
    }
    Some(String::from_utf8_lossy(&buf[..n]).into_owned())
}

/// SET each key to "x", every reply checked.
fn set_x(port: u16, keys: impl IntoIterator<Item = String>) {
    for key in keys {
        assert_eq!(
            command(port, &["SET", &key, "x"]).as_deref(),
            Some("+OK\r\n"),
            "{key}"
        );
    }
}

/// Every key holds "x".
fn assert_x(port: u16, keys: impl IntoIterator<Item = String>) {
    for key in keys {
        assert_eq!(
            command(port, &["GET", &key]).as_deref(),
            Some("$1\r\nx\r\n"),
            "{key}"
        );
    }
}

fn wait_for(port: u16, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while command(port, &["PING"]).as_deref() != Some("+PONG\r\n") {
        assert!(Instant::now() < deadline, "{what} did not serve on {port}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn make_certs(dir: &Path) {
    let status = Command::new(env!("CARGO_BIN_EXE_understudy"))
        .arg("certs")
        .arg("--out")
        .arg(dir)
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
}

/// Rounds of: replica and primary up, clients writing, SIGKILL at a
/// pseudo-random moment (`FAILOVER_ROUNDS`, default 20); the replica
/// acknowledges at `received` and `fsynced` in turn, and round 1 holds
/// 100,000 more keys.
#[test]
fn every_acknowledged_write_survives_a_kill_at_any_moment() {
    let rounds: u64 = std::env::var("FAILOVER_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(20);
    let root = temp_dir("failover");
    let certs = root.join("certs");
    make_certs(&certs);
    let mut seed = 0x2545_f491_u64;
    let mut failovers = Vec::new();
    for round in 0..rounds {
        let data = root.join(format!("data-{round}"));
        // Both acknowledgement levels; one round on a data set of
        // 100,000 keys, loaded before the writes under test.
        let ack = if round % 2 == 0 {
            "received"
        } else {
            "fsynced"
        };
        let loaded = if round == 1 { 100_000 } else { 0 };
        let (_replica, replica_port) = replica_acking(&data, &certs, ack);
        let (mut primary, port) = primary(&certs, replica_port, "output-commit");
        wait_for(port, "the primary");
        let load: Vec<Vec<String>> = (0..loaded)
            .map(|i| vec!["SET".into(), format!("big:{i}"), value_of(i)])
            .collect();
        assert!(pipeline(port, &load, 1).iter().all(|r| r == "+OK"));
        // A writer that keeps going until the primary dies, recording every
        // acknowledged reply.
        let writer = std::thread::spawn(move || {
            let mut acked = Vec::new();
            let mut counter = 0u64;
            for i in 0.. {
                let key = format!("k{round}-{i}");
                match command(port, &["SET", &key, &i.to_string()]) {
                    Some(r) if r == "+OK\r\n" => acked.push((key, i.to_string())),
                    _ => break,
                }
                match command(port, &["INCR", "counter"]) {
                    Some(r) if r.starts_with(':') => {
                        counter = r[1..].trim().parse().unwrap();
                    }
                    _ => break,
                }
            }
            (acked, counter)
        });
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        std::thread::sleep(Duration::from_millis(50 + seed % 400));
        primary.0.kill().unwrap();
        primary.0.wait().unwrap();
        let killed = Instant::now();
        let (acked, counter) = writer.join().unwrap();
        wait_for(port, "the promoted replica");
        failovers.push(killed.elapsed());
        for (key, value) in &acked {
            let reply = command(port, &["GET", key]).expect("the replica answers");
            assert_eq!(
                reply,
                format!("${}\r\n{value}\r\n", value.len()),
                "round {round}: acknowledged {key} lost"
            );
        }
        for i in (0..loaded).step_by(997) {
            let reply = command(port, &["GET", &format!("big:{i}")]).unwrap();
            let value = value_of(i);
            assert_eq!(reply, format!("${}\r\n{value}\r\n", value.len()));
        }
        // The counter holds at least every acknowledged increment (one in
        // flight may have been applied and checkpointed, unacknowledged).
        let reply = command(port, &["GET", "counter"]).unwrap();
        let kept: u64 = reply
            .lines()
            .nth(1)
            .and_then(|l| l.parse().ok())
            .unwrap_or(0);
        assert!(
            kept >= counter,
            "round {round}: counter {kept} < acknowledged {counter}"
        );
        assert!(
            kept <= counter + 1,
            "round {round}: counter {kept} > {counter} + 1"
        );
        eprintln!(
            "round {round} (ack {ack}, {loaded} keys loaded): {} writes acknowledged and kept, failover {:?}",
            acked.len(),
            failovers.last().unwrap()
        );
        if round == 0 {
            // The old primary comes back: it is fenced and stops.
            let out = Command::new(env!("CARGO_BIN_EXE_understudy"))
                .arg("run")
                .args(["--replicate-to", &format!("127.0.0.1:{replica_port}")])
                .arg("--certs")
                .arg(&certs)
                .arg(format!(
                    "{}/examples/kv-cache/main.lua",
                    env!("CARGO_MANIFEST_DIR")
                ))
                .args(["--port", "0"])
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .output()
                .unwrap();
            assert_eq!(out.status.code(), Some(1));
            assert!(String::from_utf8_lossy(&out.stderr).contains("newer term"));
        }
    }
    std::fs::remove_dir_all(&root).unwrap();
}

#[test]
fn a_primary_without_the_ca_signature_is_refused() {
    let root = temp_dir("stranger");
    let certs = root.join("certs");
    let stranger = root.join("stranger");
    make_certs(&certs);
    make_certs(&stranger);
    let data = root.join("data");
    let (_replica, replica_port) = replica(&data, &certs);
    // Certificates from another CA: the handshake fails, nothing arrives,
    // and output commit never lets a reply out.
    let (_primary, port) = primary(&stranger, replica_port, "output-commit");
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_millis(800)))
        .unwrap();
    s.write_all(b"*1\r\n$4\r\nPING\r\n").unwrap();
    let mut buf = [0u8; 16];
    assert!(
        s.read(&mut buf).is_err(),
        "a reply left without a replica holding its epoch"
    );
    // In async mode the same primary answers at once.
    let (_async_primary, async_port) = primary(&stranger, replica_port, "async");
    wait_for(async_port, "the async primary");
    let store = understudy_checkpointer::store::load(&data);
    assert!(
        matches!(store, Err(understudy_checkpointer::StoreError::Empty(_))),
        "the replica accepted a stranger's checkpoints"
    );
    std::fs::remove_dir_all(&root).unwrap();
}

/// `GET /metrics` on an address a process announced on stderr.
fn scrape(addr: &str) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut body = String::new();
    s.read_to_string(&mut body).unwrap();
    body
}

/// The value of a metric in Prometheus text.
fn value(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {name} in\n{text}"))
}

fn metrics_addr(line: &str) -> String {
    line.trim()
        .rsplit("http://")
        .next()
        .and_then(|rest| rest.strip_suffix("/metrics"))
        .unwrap_or_else(|| panic!("no metrics address in {line:?}"))
        .to_owned()
}

#[test]
fn both_sides_serve_prometheus_metrics() {
    let root = temp_dir("metrics");
    let certs = root.join("certs");
    make_certs(&certs);
    let (_replica, lines) = spawn_replica(
        &root.join("data"),
        Some(&certs),
        &["--listen", "127.0.0.1:0", "--metrics", "127.0.0.1:0"],
        2,
    );
    let (first, second) = (&lines[0], &lines[1]);
    let replica_port = announced_port(first);
    let replica_metrics = metrics_addr(second);

    let (_primary, port, err_lines) = spawn_primary(
        &[
            "--replicate-to",
            &format!("127.0.0.1:{replica_port}"),
            "--certs",
            &certs.display().to_string(),
            "--metrics",
            "127.0.0.1:0",
        ],
        1,
    );
    let primary_metrics = metrics_addr(&err_lines[0]);
    wait_for(port, "the primary");
    for i in 0..20 {
        command(port, &["SET", &format!("m{i}"), "v"]).unwrap();
    }
    let p = scrape(&primary_metrics);
    assert!(p.starts_with("HTTP/1.1 200 OK"), "{p}");
    assert_eq!(value(&p, "understudy_role"), 1.0);
    assert!(value(&p, "understudy_epochs_acked") >= 2.0);
    assert_eq!(value(&p, "understudy_replication_connected"), 1.0);
    assert!(value(&p, "understudy_replication_bytes_sent_total") > 0.0);
    // The latency histogram counts every acknowledged epoch, cumulatively.
    let count = value(&p, "understudy_ack_latency_seconds_count");
    assert!(count >= 2.0, "{p}");
    assert_eq!(
        value(&p, "understudy_ack_latency_seconds_bucket{le=\"+Inf\"}"),
        count
    );
    assert!(value(&p, "understudy_ack_latency_seconds_bucket{le=\"0.0005\"}") <= count);
    let r = scrape(&replica_metrics);
    assert_eq!(value(&r, "understudy_role"), 0.0);
    assert_eq!(value(&r, "understudy_term"), 1.0);
    assert!(value(&r, "understudy_frames_applied_total") >= 2.0);
    assert_eq!(value(&r, "understudy_frames_refused_total"), 0.0);
    std::fs::remove_dir_all(&root).unwrap();
}

/// A UDP relay between a primary and its replica that can drop every
/// datagram for a while (a network partition on loopback), and can make
/// the primary-to-replica direction a slow link: a bottleneck of a given
/// rate with a router's drop-tail queue in front of it.
struct Relay {
    addr: std::net::SocketAddr,
    drop_until: Arc<Mutex<Instant>>,
    /// Bytes per second towards the replica (None: as fast as loopback).
    rate: Arc<Mutex<Option<u64>>>,
    stop: Arc<AtomicBool>,
}

/// What the bottleneck's queue holds before it drops datagrams.
const RELAY_QUEUE: usize = 64 * 1024;

impl Relay {
    fn start(replica: std::net::SocketAddr) -> Relay {
        let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let addr = socket.local_addr().unwrap();
        let drop_until = Arc::new(Mutex::new(Instant::now()));
        let rate: Arc<Mutex<Option<u64>>> = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let (d, r, s) = (drop_until.clone(), rate.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut primary = None;
            let mut buf = vec![0u8; 65536];
            // Datagrams towards the replica with the instant each leaves
            // the bottleneck.
            let mut queue: VecDeque<(Instant, Vec<u8>)> = VecDeque::new();
            let mut queued = 0;
            let mut free_at = Instant::now();
            while !s.load(Ordering::SeqCst) {
                let now = Instant::now();
                while queue.front().is_some_and(|(at, _)| *at <= now) {
                    let (_, datagram) = queue.pop_front().unwrap();
                    queued -= datagram.len();
                    let _ = socket.send_to(&datagram, replica);
                }
                let wait = queue
                    .front()
                    .map_or(Duration::from_millis(20), |(at, _)| {
                        at.saturating_duration_since(now)
                    })
                    .max(Duration::from_micros(100));
                socket.set_read_timeout(Some(wait)).unwrap();
                let Ok((n, from)) = socket.recv_from(&mut buf) else {
                    continue;
                };
                let now = Instant::now();
                if now < *d.lock().unwrap() {
                    continue; // partitioned: the datagram is lost
                }
                if from == replica {
                    if let Some(p) = primary {
                        let _ = socket.send_to(&buf[..n], p);
                    }
                    continue;
                }
                primary = Some(from);
                match *r.lock().unwrap() {
                    None => {
                        let _ = socket.send_to(&buf[..n], replica);
                    }
                    Some(_) if queued + n > RELAY_QUEUE => {} // drop-tail
                    Some(rate) => {
                        free_at = free_at.max(now)
                            + Duration::from_nanos(n as u64 * 1_000_000_000 / rate);
                        queued += n;
                        queue.push_back((free_at, buf[..n].to_vec()));
                    }
                }
            }
        });
        Relay {
            addr,
            drop_until,
            rate,
            stop,
        }
    }

    fn partition(&self, how_long: Duration) {
        *self.drop_until.lock().unwrap() = Instant::now() + how_long;
    }

    fn throttle(&self, bytes_per_second: Option<u64>) {
        *self.rate.lock().unwrap() = bytes_per_second;
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

/// 100 pseudo-random hex digits for key `i` (LZ4 cannot shrink them much).
fn value_of(i: u64) -> String {
    let mut x = i.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..100)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            char::from_digit((x % 16) as u32, 16).unwrap()
        })
        .collect()
}

/// Sends `commands` on one connection in batches of 1,000, pipelined, and
/// returns every reply line (a bulk string's header and body are two).
fn pipeline(port: u16, commands: &[Vec<String>], lines_per_reply: usize) -> Vec<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut reader = BufReader::new(s.try_clone().unwrap());
    let mut lines = Vec::new();
    for batch in commands.chunks(1000) {
        let mut out = String::new();
        for c in batch {
            let args: Vec<&str> = c.iter().map(String::as_str).collect();
            out.push_str(&resp(&args));
        }
        s.write_all(out.as_bytes()).unwrap();
        for _ in 0..batch.len() * lines_per_reply {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            lines.push(line.trim_end().to_owned());
        }
    }
    lines
}

/// A frame that takes far longer to arrive than the failure timeout syncs,
/// and the replica does not take over from the live primary: its bytes
/// keep arriving. After a break longer than the primary's link timeout,
/// the primary reconnects and, as the epoch it had in flight was lost with
/// the old connection, sends a full image of 20,000 keys over a 256 KB/s
/// link; meanwhile the standby only hears the primary byte by byte.
#[test]
fn a_frame_slower_than_the_failure_timeout_syncs_without_a_failover() {
    const KEYS: u64 = 20_000;
    let root = temp_dir("slowlink");
    let certs = root.join("certs");
    make_certs(&certs);
    let data = root.join("data");
    let (_replica, lines) = spawn_replica(
        &data,
        Some(&certs),
        &["--listen", "127.0.0.1:0", "--failure-timeout", "3s"],
        1,
    );
    let relay = Relay::start(
        format!("127.0.0.1:{}", announced_port(&lines[0]))
            .parse()
            .unwrap(),
    );
    let (mut primary, port) = primary(&certs, relay.addr.port(), "output-commit");
    wait_for(port, "the primary");
    let sets: Vec<Vec<String>> = (0..KEYS)
        .map(|i| vec!["SET".into(), format!("key:{i}"), value_of(i)])
        .collect();
    let replies = pipeline(port, &sets, 1);
    assert!(replies.iter().all(|r| r == "+OK"), "a SET failed");

    // Everything is acknowledged, and the program is idle.
    let held = understudy_checkpointer::store::load(&data).unwrap().epoch;
    relay.throttle(Some(256 * 1024));
    // Longer than QUIC's idle timeout (1 s), well within the failure
    // timeout (3 s) with the reconnection.
    relay.partition(Duration::from_millis(1200));
    // Its epoch is lost with the connection the primary gives up.
    let during = std::thread::spawn(move || {
        command_waiting(port, &["SET", "during", "x"], Duration::from_secs(60))
    });
    std::thread::sleep(Duration::from_millis(1200));
    let healed = Instant::now();
    assert_eq!(during.join().unwrap().as_deref(), Some("+OK\r\n"));
    let synced = healed.elapsed();
    assert!(
        synced > Duration::from_secs(3),
        "the resync took {synced:?}: not longer than the failure timeout"
    );
    assert_eq!(
        std::fs::read_to_string(data.join("TERM")).unwrap().trim(),
        "1",
        "the replica took over from a live primary"
    );
    assert!(
        primary.0.try_wait().unwrap().is_none(),
        "the primary stopped"
    );
    let loaded = understudy_checkpointer::store::load(&data).unwrap();
    let base = loaded.frames[0].header;
    assert!(
        base.kind == understudy_checkpointer::Kind::Full && base.epoch > held,
        "the resync was not a full image (base at epoch {}, {held} held before)",
        base.epoch
    );
    eprintln!(
        "a full image of {} bytes over a 256 KB/s link synced {synced:?} after the break",
        loaded.frames[0].bytes
    );

    // The replica holds everything: the primary dies, it takes over.
    relay.throttle(None);
    primary.0.kill().unwrap();
    primary.0.wait().unwrap();
    wait_for(port, "the promoted replica");
    let gets: Vec<Vec<String>> = (0..KEYS)
        .map(|i| vec!["GET".into(), format!("key:{i}")])
        .collect();
    let values = pipeline(port, &gets, 2);
    for i in 0..KEYS as usize {
        assert_eq!(values[2 * i + 1], value_of(i as u64), "key:{i}");
    }
    assert_eq!(
        command(port, &["GET", "during"]).as_deref(),
        Some("$1\r\nx\r\n")
    );
    std::fs::remove_dir_all(&root).unwrap();
}

#[test]
fn a_short_partition_is_ridden_out_and_a_long_one_fails_over_and_fences() {
    let root = temp_dir("partition");
    let certs = root.join("certs");
    make_certs(&certs);
    let (_replica, lines) = spawn_replica(
        &root.join("data"),
        Some(&certs),
        &["--listen", "127.0.0.1:0", "--failure-timeout", "1s"],
        1,
    );
    let line = &lines[0];
    let relay = Relay::start(
        format!("127.0.0.1:{}", announced_port(line))
            .parse()
            .unwrap(),
    );
    let (mut primary, port) = primary(&certs, relay.addr.port(), "output-commit");
    wait_for(port, "the primary");
    // Both run on this machine: the promoted replica gets the port once
    // the fenced primary has let it go (it retries its accept).

    set_x(port, (0..10).map(|i| format!("a{i}")));
    // Shorter than the failure timeout: replies wait, nothing fails over.
    relay.partition(Duration::from_millis(400));
    let started = Instant::now();
    assert_eq!(
        command(port, &["SET", "during", "x"]).as_deref(),
        Some("+OK\r\n")
    );
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "the reply did not wait for the link"
    );
    set_x(port, (0..10).map(|i| format!("b{i}")));
    // The first handshake gave the new program term 1; a promotion would
    // have made it 2.
    assert_eq!(
        std::fs::read_to_string(root.join("data").join("TERM"))
            .unwrap()
            .trim(),
        "1",
        "promoted during a short partition"
    );

    // Longer than the failure timeout: the replica takes over; when the
    // link heals the old primary learns the new term and stops.
    relay.partition(Duration::from_millis(2500));
    let deadline = Instant::now() + Duration::from_secs(20);
    let term = || std::fs::read_to_string(root.join("data").join("TERM")).unwrap_or_default();
    while term().trim() != "2" {
        assert!(Instant::now() < deadline, "the replica did not take over");
        std::thread::sleep(Duration::from_millis(20));
    }
    let exit = loop {
        if let Some(status) = primary.0.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "the old primary was not fenced");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(
        exit.code(),
        Some(1),
        "the fenced primary stops with an error"
    );
    // Every write acknowledged before the partition is in the promoted image.
    wait_for(port, "the promoted replica");
    assert_x(
        port,
        (0..10)
            .map(|i| format!("a{i}"))
            .chain((0..10).map(|i| format!("b{i}")))
            .chain(["during".to_owned()]),
    );
    std::fs::remove_dir_all(&root).unwrap();
}

#[test]
fn a_restarted_replica_resyncs_and_the_primary_reconnects() {
    let root = temp_dir("restart");
    let certs = root.join("certs");
    make_certs(&certs);
    let data = root.join("data");
    let (replica1, replica_port) = replica(&data, &certs);
    let (mut primary, port) = primary(&certs, replica_port, "output-commit");
    wait_for(port, "the primary");
    set_x(port, (0..10).map(|i| format!("a{i}")));
    // The replica dies and comes back on the same address from its disk.
    drop(replica1);
    let listen = format!("127.0.0.1:{replica_port}");
    let (_replica, _) = spawn_replica(
        &data,
        Some(&certs),
        &["--listen", &listen, "--failure-timeout", "300ms"],
        1,
    );
    // The primary reconnects (its held replies go out once the restarted
    // replica has their epochs) and goes on.
    set_x(port, (0..10).map(|i| format!("b{i}")));
    primary.0.kill().unwrap();
    primary.0.wait().unwrap();
    wait_for(port, "the promoted replica");
    assert_x(
        port,
        (0..10).flat_map(|i| [format!("a{i}"), format!("b{i}")]),
    );
    std::fs::remove_dir_all(&root).unwrap();
}

#[test]
fn the_insecure_mode_works_on_loopback_only() {
    let root = temp_dir("insecure");
    // Refused away from loopback, on both sides.
    let out = Command::new(env!("CARGO_BIN_EXE_understudy-replica"))
        .args(["--listen", "10.1.2.3:7000", "--insecure-loopback"])
        .arg("--data-dir")
        .arg(root.join("refused"))
        .env("RUST_LOG", "off")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("loopback tests only"));
    let out = Command::new(env!("CARGO_BIN_EXE_understudy"))
        .args([
            "run",
            "--replicate-to",
            "10.1.2.3:7000",
            "--insecure-loopback",
            "-",
        ])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("loopback tests only"));
    // On 127.0.0.1 it replicates and fails over like the secure link.
    let (_replica, lines) = spawn_replica(
        &root.join("data"),
        None,
        &[
            "--listen",
            "127.0.0.1:0",
            "--insecure-loopback",
            "--failure-timeout",
            "300ms",
        ],
        1,
    );
    let line = &lines[0];
    let (primary, port, _) = spawn_primary(
        &[
            "--replicate-to",
            &format!("127.0.0.1:{}", announced_port(line)),
            "--insecure-loopback",
        ],
        0,
    );
    let mut primary = primary;
    wait_for(port, "the primary");
    assert_eq!(
        command(port, &["SET", "k", "v"]).as_deref(),
        Some("+OK\r\n")
    );
    primary.0.kill().unwrap();
    primary.0.wait().unwrap();
    wait_for(port, "the promoted replica");
    assert_eq!(command(port, &["GET", "k"]).as_deref(), Some("$1\r\nv\r\n"));
    std::fs::remove_dir_all(&root).unwrap();
}
