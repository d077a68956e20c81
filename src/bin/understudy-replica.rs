//! `understudy-replica`: the standby daemon (the library is `replica/`).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use understudy_checkpointer::protocol::{AckLevel, StandbyConfig};
use understudy_checkpointer::replication::Certs;
use understudy_replica::Standby;
use understudy_runtime::runtime::CheckpointPolicy;
use understudy_runtime::{Config, Runtime};

#[derive(Parser)]
#[command(
    name = "understudy-replica",
    version,
    about = "Hot standby for an understudy program: receives its checkpoints, takes over when it dies"
)]
struct Cli {
    /// UDP address to receive the primary's QUIC connection on.
    #[arg(long)]
    listen: SocketAddr,
    /// Where the image is kept (a checkpoint store) and the term.
    #[arg(long)]
    data_dir: PathBuf,
    /// Certificates from `understudy certs` (ca.der, replica.der, replica.key).
    #[arg(long, required_unless_present = "insecure_loopback")]
    certs: Option<PathBuf>,
    /// No certificates: any primary is accepted, and the link is not
    /// authenticated. For tests on 127.0.0.1 only (refused elsewhere).
    #[arg(long, conflicts_with = "certs")]
    insecure_loopback: bool,
    /// Silence from the primary after which this replica takes over.
    #[arg(long, default_value = "300ms", value_parser = parse_duration)]
    failure_timeout: Duration,
    /// When a frame is acknowledged (under output commit: when the
    /// primary's replies may leave). `received`: written to the OS and
    /// held in memory, fsynced in the background a moment later; it
    /// survives the primary's death and a crash of this process.
    /// `fsynced`: also on disk, so it survives this machine losing power
    /// at the same time; costs a disk flush per frame.
    #[arg(long, value_enum, default_value_t = Ack::Received)]
    ack: Ack,
    /// Serve Prometheus metrics on this address (`GET /metrics`).
    #[arg(long)]
    metrics: Option<SocketAddr>,
    /// After promotion, serve a listener recorded at OLD on NEW instead
    /// (`--serve-on 10.0.0.1:6380=0.0.0.0:6380`; repeatable).
    #[arg(long, value_parser = parse_mapping)]
    serve_on: Vec<(String, String)>,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum Ack {
    Received,
    Fsynced,
}

fn parse_mapping(s: &str) -> Result<(String, String), String> {
    let (old, new) = s
        .split_once('=')
        .ok_or_else(|| format!("'{s}' is not OLD_ADDR=NEW_ADDR"))?;
    for a in [old, new] {
        a.parse::<SocketAddr>()
            .map_err(|_| format!("'{a}' is not an address like 127.0.0.1:6380"))?;
    }
    Ok((old.to_owned(), new.to_owned()))
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    let (n, scale) = if let Some(n) = s.strip_suffix("ms") {
        (n, 1e-3)
    } else if let Some(n) = s.strip_suffix('s') {
        (n, 1.0)
    } else {
        (s, 1.0)
    };
    let v: f64 = n
        .parse()
        .map_err(|_| format!("'{s}' is not a duration (like 300ms or 2s)"))?;
    if !(v * scale).is_finite() || v < 0.0 {
        return Err(format!("'{s}' is not a duration"));
    }
    Ok(Duration::from_secs_f64(v * scale))
}

/// Decoding and applying frames allocates many small records (and the
/// promoted program many small objects): mimalloc, as `understudy` uses.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> anyhow::Result<()> {
    understudy::init_logging("info");
    let cli = Cli::parse();
    // The promoted program runs on this thread (give it the interpreter's
    // stack); QUIC, the link readers, the acceptor and the standby's loop
    // run on the runtime's workers, so that a loop busy with a large
    // frame or a prune does not stop the replica from answering.
    let worker = std::thread::Builder::new()
        .name("understudy-replica".into())
        .stack_size(256 << 20)
        .spawn(move || {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .context("starting tokio")?
                .block_on(standby(cli))
        })?;
    worker
        .join()
        .map_err(|_| anyhow::anyhow!("the replica thread panicked"))?
}

async fn standby(cli: Cli) -> anyhow::Result<()> {
    let standby = Standby::open(&cli.data_dir)
        .with_context(|| format!("opening {}", cli.data_dir.display()))?;
    let endpoint = match &cli.certs {
        Some(dir) => {
            let certs = Certs::load(dir, "replica").context("loading certificates")?;
            understudy_replica::endpoint(cli.listen, &certs)?
        }
        None => {
            tracing::warn!("insecure loopback mode: the replication link is not authenticated");
            understudy_replica::insecure_endpoint(cli.listen)?
        }
    };
    let bound = endpoint.local_addr().unwrap_or(cli.listen);
    // The first line, for scripts (the address chosen for port 0).
    eprintln!("replica listening on {bound}");
    tracing::info!(
        "standby (term {}, epoch {})",
        standby.term(),
        standby.epoch()
    );
    if let Some(addr) = cli.metrics {
        let metrics = standby.metrics.clone();
        let bound = understudy_checkpointer::metrics::serve(
            addr,
            std::sync::Arc::new(move || metrics.render()),
        )
        .await
        .with_context(|| format!("serving metrics on {addr}"))?;
        eprintln!("metrics on http://{bound}/metrics");
    }
    let config = StandbyConfig {
        failure_timeout: cli.failure_timeout,
        ack: match cli.ack {
            Ack::Received => AckLevel::Received,
            Ack::Fsynced => AckLevel::Fsynced,
        },
        ..StandbyConfig::default()
    };
    // The program: the standard library only (an application with its own
    // natives runs its standby through the library, with them registered).
    // It follows every frame the standby accepts, on this thread; the
    // standby's loop is a task on the workers, next to the link readers
    // and QUIC, so that a frame's way from the socket to its ack stays
    // there.
    let mut rt = Runtime::new(Config::default());
    let mut takeover =
        understudy_replica::stand_by(standby, endpoint, config, &cli.serve_on, &mut rt).await?;
    let started = std::time::Instant::now();
    let resumed = takeover
        .resume(&mut rt)
        .with_context(|| format!("resuming epoch {}", takeover.epoch))?;
    let ready = started.elapsed();
    // The promoted program continues the primary's chain in the store
    // with deltas under its own term: a full image of a large heap would
    // hold up the first requests for seconds. If `--serve-on` moved its
    // listeners, it is a new runtime with its own id and starts from a
    // full image.
    let mut store = takeover.store;
    store.raise_term(takeover.term);
    let continues = !resumed.rewritten && store.continues(takeover.runtime_id, takeover.epoch);
    if !continues {
        store.set_runtime_id(understudy_checkpointer::new_runtime_id());
    }
    let policy = CheckpointPolicy {
        every: Some(Duration::from_millis(100)),
        every_instructions: None,
    };
    let sink = move |image: understudy::runtime::image::Image, _: &_| {
        if let Err(e) = store.write(&image) {
            tracing::warn!("checkpoint not written: {e}");
        }
    };
    if continues {
        rt.continue_checkpointing(policy, sink);
    } else {
        rt.set_checkpointing(policy, sink);
    }
    eprintln!(
        "replica promoted (term {}, epoch {}); program resumed in {:.2} ms ({})",
        takeover.term,
        takeover.epoch,
        ready.as_secs_f64() * 1e3,
        if resumed.hot {
            "hot: the heap was held"
        } else {
            "rebuilt from the store"
        }
    );
    let signals = understudy::shutdown::Signals::install();
    let result = rt.run_until(signals.recv()).await;
    rt.checkpoint_now();
    result.map_err(|e| anyhow::anyhow!("the promoted program failed: {e}"))
}
