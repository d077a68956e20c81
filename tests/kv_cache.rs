//! The kv-cache example as a real process on 127.0.0.1, driven with a RESP
//! client written here and with `redis-cli` / `redis-benchmark` (Debian's
//! redis-tools; required when `CI` is set, skipped with a note otherwise).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const IO_TIMEOUT: Duration = Duration::from_secs(10);

/// The example running on an ephemeral port; killed when dropped.
struct Server {
    child: Child,
    addr: String,
}

impl Server {
    fn start() -> Server {
        let root = env!("CARGO_MANIFEST_DIR");
        let mut child = Command::new(env!("CARGO_BIN_EXE_understudy"))
            .args([
                "run",
                &format!("{root}/examples/kv-cache/main.lua"),
                "--port",
                "0",
                "--janitor-interval",
                "0.05",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("starting understudy");
        let stdout = child.stdout.take().expect("piped stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("reading the server's first line");
        let addr = line
            .trim()
            .strip_prefix("kv-cache listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .to_owned();
        Server { child, addr }
    }

    fn port(&self) -> &str {
        self.addr.rsplit(':').next().expect("host:port")
    }

    fn connect(&self) -> Client {
        let stream = TcpStream::connect(&self.addr).expect("connecting to kv-cache");
        stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        stream.set_write_timeout(Some(IO_TIMEOUT)).unwrap();
        Client {
            reader: BufReader::new(stream.try_clone().unwrap()),
            stream,
        }
    }

    /// Whether the process is still running.
    fn alive(&mut self) -> bool {
        self.child.try_wait().expect("polling the server").is_none()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Reply {
    Status(String),
    Error(String),
    Int(i64),
    Bulk(Option<Vec<u8>>),
    Array(Vec<Reply>),
}

fn bulk(s: &str) -> Reply {
    Reply::Bulk(Some(s.as_bytes().to_vec()))
}

fn status(s: &str) -> Reply {
    Reply::Status(s.to_owned())
}

struct Client {
    stream: TcpStream,
    reader: BufReader<TcpStream>,
}

fn encode(args: &[&str]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out
}

impl Client {
    fn send_raw(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("writing to kv-cache");
    }

    fn cmd(&mut self, args: &[&str]) -> Reply {
        self.send_raw(&encode(args));
        self.reply()
    }

    fn line(&mut self) -> String {
        let mut line = String::new();
        let n = self.reader.read_line(&mut line).expect("reading a reply");
        assert!(n > 0, "the server closed the connection");
        line.trim_end_matches("\r\n").to_owned()
    }

    fn reply(&mut self) -> Reply {
        let line = self.line();
        let (kind, rest) = line.split_at(1);
        match kind {
            "+" => Reply::Status(rest.to_owned()),
            "-" => Reply::Error(rest.to_owned()),
            ":" => Reply::Int(rest.parse().expect("an integer reply")),
            "$" => {
                let n: i64 = rest.parse().expect("a bulk length");
                if n < 0 {
                    return Reply::Bulk(None);
                }
                let mut data = vec![0; n as usize + 2];
                self.reader.read_exact(&mut data).expect("reading a bulk");
                data.truncate(n as usize);
                Reply::Bulk(Some(data))
            }
            "*" => {
                let n: usize = rest.parse().expect("an array length");
                Reply::Array((0..n).map(|_| self.reply()).collect())
            }
            _ => panic!("unexpected reply line {line:?}"),
        }
    }

    /// Whether the server closed the connection (reads end of stream).
    fn closed_by_server(&mut self) -> bool {
        let mut buf = [0u8; 64];
        matches!(self.reader.read(&mut buf), Ok(0))
    }
}

#[test]
fn every_command_over_resp() {
    let server = Server::start();
    let mut c = server.connect();
    assert_eq!(c.cmd(&["PING"]), status("PONG"));
    assert_eq!(c.cmd(&["ping", "hello"]), bulk("hello"));
    assert_eq!(c.cmd(&["ECHO", "a b"]), bulk("a b"));
    assert_eq!(c.cmd(&["GET", "k"]), Reply::Bulk(None));
    assert_eq!(c.cmd(&["SET", "k", "v1"]), status("OK"));
    assert_eq!(c.cmd(&["GET", "k"]), bulk("v1"));
    // Binary-safe values.
    assert_eq!(c.cmd(&["SET", "bin", "a\r\nb\0c"]), status("OK"));
    assert_eq!(c.cmd(&["GET", "bin"]), bulk("a\r\nb\0c"));
    assert_eq!(c.cmd(&["SET", "k", "v2", "NX"]), Reply::Bulk(None));
    assert_eq!(c.cmd(&["SET", "new", "v", "XX"]), Reply::Bulk(None));
    assert_eq!(c.cmd(&["SET", "k", "v3", "XX"]), status("OK"));
    assert_eq!(c.cmd(&["GET", "k"]), bulk("v3"));
    assert_eq!(c.cmd(&["EXISTS", "k", "bin", "nope"]), Reply::Int(2));
    assert_eq!(c.cmd(&["DEL", "k", "nope"]), Reply::Int(1));
    assert_eq!(c.cmd(&["EXISTS", "k"]), Reply::Int(0));
    assert_eq!(c.cmd(&["INCR", "n"]), Reply::Int(1));
    assert_eq!(c.cmd(&["INCR", "n"]), Reply::Int(2));
    assert_eq!(c.cmd(&["DECR", "n"]), Reply::Int(1));
    assert_eq!(c.cmd(&["INCRBY", "n", "41"]), Reply::Int(42));
    assert_eq!(c.cmd(&["DECRBY", "n", "2"]), Reply::Int(40));
    assert_eq!(c.cmd(&["GET", "n"]), bulk("40"));
    assert_eq!(
        c.cmd(&["INCR", "bin"]),
        Reply::Error("ERR value is not an integer or out of range".into())
    );
    assert_eq!(c.cmd(&["SET", "max", &i64::MAX.to_string()]), status("OK"));
    assert_eq!(
        c.cmd(&["INCR", "max"]),
        Reply::Error("ERR increment or decrement would overflow".into())
    );
    assert_eq!(c.cmd(&["TTL", "n"]), Reply::Int(-1));
    assert_eq!(c.cmd(&["TTL", "missing"]), Reply::Int(-2));
    assert_eq!(c.cmd(&["EXPIRE", "n", "100"]), Reply::Int(1));
    assert_eq!(c.cmd(&["EXPIRE", "missing", "100"]), Reply::Int(0));
    assert_eq!(c.cmd(&["TTL", "n"]), Reply::Int(100));
    let Reply::Int(pttl) = c.cmd(&["PTTL", "n"]) else {
        panic!("PTTL answers an integer")
    };
    assert!((99_000..=100_000).contains(&pttl), "{pttl}");
    assert_eq!(c.cmd(&["SET", "e", "v", "EX", "50"]), status("OK"));
    assert_eq!(c.cmd(&["TTL", "e"]), Reply::Int(50));
    assert_eq!(c.cmd(&["PERSIST", "e"]), Reply::Int(1));
    assert_eq!(c.cmd(&["TTL", "e"]), Reply::Int(-1));
    assert_eq!(
        c.cmd(&["SET", "e", "v", "EX", "zero"]),
        Reply::Error("ERR invalid expire time in 'set' command".into())
    );
    assert_eq!(c.cmd(&["DBSIZE"]), Reply::Int(4));
    let Reply::Bulk(Some(info)) = c.cmd(&["INFO"]) else {
        panic!("INFO answers a bulk string")
    };
    let info = String::from_utf8(info).unwrap();
    assert!(info.contains("redis_version:"), "{info}");
    assert!(info.contains("db0:keys=4"), "{info}");
    assert_eq!(c.cmd(&["COMMAND", "DOCS"]), Reply::Array(vec![]));
    assert_eq!(
        c.cmd(&["CONFIG", "GET", "save"]),
        Reply::Array(vec![bulk("save"), bulk("")])
    );
    assert_eq!(c.cmd(&["SELECT", "0"]), status("OK"));
    assert_eq!(
        c.cmd(&["NOSUCH", "x"]),
        Reply::Error("ERR unknown command 'NOSUCH'".into())
    );
    assert_eq!(
        c.cmd(&["GET"]),
        Reply::Error("ERR wrong number of arguments for 'get' command".into())
    );
    assert_eq!(c.cmd(&["FLUSHALL"]), status("OK"));
    assert_eq!(c.cmd(&["DBSIZE"]), Reply::Int(0));
    // Inline commands, as typed into telnet.
    c.send_raw(b"PING\r\n");
    assert_eq!(c.reply(), status("PONG"));
    c.send_raw(b"SET inline yes\r\n");
    assert_eq!(c.reply(), status("OK"));
    assert_eq!(c.cmd(&["GET", "inline"]), bulk("yes"));
    assert_eq!(c.cmd(&["QUIT"]), status("OK"));
    assert!(c.closed_by_server());
}

#[test]
fn items_expire_and_the_janitor_evicts_them() {
    let server = Server::start();
    let mut c = server.connect();
    assert_eq!(c.cmd(&["SET", "short", "v", "PX", "100"]), status("OK"));
    assert_eq!(c.cmd(&["SET", "long", "v", "EX", "100"]), status("OK"));
    assert_eq!(c.cmd(&["GET", "short"]), bulk("v"));
    for i in 0..50 {
        let key = format!("bulk{i}");
        assert_eq!(c.cmd(&["SET", &key, "v", "PX", "50"]), status("OK"));
    }
    assert_eq!(c.cmd(&["DBSIZE"]), Reply::Int(52));
    // DBSIZE counts items the janitor has not evicted yet, so reaching 1
    // without reading the expired keys shows the janitor at work.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if c.cmd(&["DBSIZE"]) == Reply::Int(1) {
            break;
        }
        assert!(Instant::now() < deadline, "the janitor did not evict");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(c.cmd(&["GET", "short"]), Reply::Bulk(None));
    assert_eq!(c.cmd(&["TTL", "short"]), Reply::Int(-2));
    assert_eq!(c.cmd(&["GET", "long"]), bulk("v"));
}

#[test]
fn pipelined_requests_are_answered_in_order() {
    let server = Server::start();
    let mut c = server.connect();
    let mut batch = Vec::new();
    for i in 0..1000 {
        batch.extend(encode(&["SET", &format!("p{i}"), &i.to_string()]));
        batch.extend(encode(&["INCR", "counter"]));
        batch.extend(encode(&["GET", &format!("p{i}")]));
    }
    c.send_raw(&batch);
    for i in 0..1000 {
        assert_eq!(c.reply(), status("OK"));
        assert_eq!(c.reply(), Reply::Int(i + 1));
        assert_eq!(c.reply(), bulk(&i.to_string()));
    }
    assert_eq!(c.cmd(&["DBSIZE"]), Reply::Int(1001));
}

#[test]
fn a_hundred_concurrent_connections() {
    let server = Server::start();
    let clients: Vec<Client> = (0..100).map(|_| server.connect()).collect();
    let handles: Vec<_> = clients
        .into_iter()
        .enumerate()
        .map(|(i, mut c)| {
            std::thread::spawn(move || {
                for _ in 0..20 {
                    assert!(matches!(c.cmd(&["INCR", "shared"]), Reply::Int(_)));
                }
                let key = format!("own{i}");
                assert_eq!(c.cmd(&["SET", &key, &i.to_string()]), status("OK"));
                assert_eq!(c.cmd(&["GET", &key]), bulk(&i.to_string()));
            })
        })
        .collect();
    for h in handles {
        h.join().expect("a client thread");
    }
    let mut c = server.connect();
    assert_eq!(c.cmd(&["GET", "shared"]), bulk("2000"));
    assert_eq!(c.cmd(&["DBSIZE"]), Reply::Int(101));
}

#[test]
fn malformed_input_gets_an_error_and_the_server_lives_on() {
    let mut server = Server::start();
    let cases: &[(&[u8], &str)] = &[
        (b"*abc\r\n", "ERR Protocol error: invalid multibulk length"),
        (
            b"*1\r\nGET\r\n",
            "ERR Protocol error: expected '$', got 'G'",
        ),
        (b"*1\r\n$-5\r\n", "ERR Protocol error: invalid bulk length"),
        (
            b"*1\r\n$3\r\nGETxx",
            "ERR Protocol error: bulk string not terminated by CRLF",
        ),
    ];
    for (bytes, expected) in cases {
        let mut c = server.connect();
        c.send_raw(bytes);
        assert_eq!(c.reply(), Reply::Error((*expected).to_owned()));
        assert!(c.closed_by_server(), "closed after a protocol error");
    }
    // Binary garbage, an oversized bulk header, and a client that goes away
    // in the middle of a command.
    let mut c = server.connect();
    c.send_raw(&(0..=255u8).cycle().take(10_000).collect::<Vec<_>>());
    drop(c);
    let mut c = server.connect();
    c.send_raw(b"*1\r\n$999999999999\r\n");
    assert!(matches!(c.reply(), Reply::Error(_)));
    let mut c = server.connect();
    c.send_raw(b"*2\r\n$3\r\nGET\r\n$10\r\nabc");
    drop(c);
    // Unknown commands and arity errors keep the connection usable.
    let mut c = server.connect();
    assert!(matches!(c.cmd(&["BOGUS"]), Reply::Error(_)));
    assert!(matches!(c.cmd(&["SET", "only-key"]), Reply::Error(_)));
    assert_eq!(c.cmd(&["PING"]), status("PONG"));
    assert!(server.alive(), "the server survived its clients");
    assert_eq!(server.connect().cmd(&["PING"]), status("PONG"));
}

/// A redis-tools program, or None (and a note) when it is not installed
/// outside CI.
fn redis_tool(name: &str) -> Option<String> {
    let found = Command::new(name)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if found {
        return Some(name.to_owned());
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "{name} is required in CI (apt-get install redis-tools)"
    );
    eprintln!("note: {name} not installed; skipping (apt-get install redis-tools)");
    None
}

#[test]
fn redis_cli_works_against_it() {
    let Some(cli) = redis_tool("redis-cli") else {
        return;
    };
    let server = Server::start();
    let run = |args: &[&str]| -> String {
        let out = Command::new(&cli)
            .args(["-p", server.port()])
            .args(args)
            .output()
            .expect("running redis-cli");
        assert!(out.status.success(), "redis-cli {args:?} failed");
        String::from_utf8_lossy(&out.stdout).trim_end().to_owned()
    };
    assert_eq!(run(&["ping"]), "PONG");
    assert_eq!(run(&["set", "greeting", "hello world"]), "OK");
    assert_eq!(run(&["get", "greeting"]), "hello world");
    assert_eq!(run(&["incr", "visits"]), "1");
    assert_eq!(run(&["incrby", "visits", "9"]), "10");
    assert_eq!(run(&["expire", "visits", "30"]), "1");
    assert_eq!(run(&["ttl", "visits"]), "30");
    assert_eq!(run(&["exists", "greeting", "visits", "x"]), "2");
    assert_eq!(run(&["dbsize"]), "2");
    assert_eq!(run(&["del", "greeting"]), "1");
    assert_eq!(run(&["get", "greeting"]), "");
    assert!(run(&["info"]).contains("redis_version"));
    assert_eq!(run(&["flushall"]), "OK");
    assert_eq!(run(&["dbsize"]), "0");
    // Commands from standard input, answered in order.
    let mut child = Command::new(&cli)
        .args(["-p", server.port()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("running redis-cli");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"set a 1\nincr a\nget a\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "OK\n2\n2\n");
}

#[test]
fn redis_benchmark_runs_without_errors() {
    let Some(bench) = redis_tool("redis-benchmark") else {
        return;
    };
    let server = Server::start();
    let out = Command::new(&bench)
        .args(["-p", server.port(), "-t", "set,get,incr", "-n", "5000"])
        .args(["-c", "20", "-q"])
        .output()
        .expect("running redis-benchmark");
    let text = String::from_utf8_lossy(&out.stdout).replace('\r', "\n");
    assert!(out.status.success(), "{text}");
    assert!(!text.to_lowercase().contains("error"), "{text}");
    for t in ["SET", "GET", "INCR"] {
        assert!(
            text.lines()
                .any(|l| l.starts_with(&format!("{t}: ")) && l.contains("requests per second")),
            "no {t} result in {text}"
        );
    }
}
