//! A private Postgres cluster from the system's binaries.
use anyhow::{Context, bail};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Where to look for `initdb`/`pg_ctl` besides `PG_BIN` and `pg_config --bindir`.
const DEBIAN_ROOT: &str = "/usr/lib/postgresql";

/// The directory holding `initdb`, `pg_ctl` and `postgres`: `$PG_BIN`, else the newest
/// `/usr/lib/postgresql/<version>/bin`, else `pg_config --bindir`.
pub fn find_binaries() -> anyhow::Result<PathBuf> {
    if let Some(dir) = std::env::var_os("PG_BIN") {
        let dir = PathBuf::from(dir);
        if dir.join("initdb").exists() {
            return Ok(dir);
        }
        bail!("PG_BIN={} holds no initdb", dir.display());
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir(DEBIAN_ROOT)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let version = e.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((version, bin))
        })
        .collect();
    versions.sort();
    if let Some((_, bin)) = versions.pop() {
        return Ok(bin);
    }
    if let Ok(out) = Command::new("pg_config").arg("--bindir").output() {
        let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if dir.join("initdb").exists() {
            return Ok(dir);
        }
    }
    bail!(
        "PostgreSQL server binaries (initdb, pg_ctl) were not found under {DEBIAN_ROOT} or by pg_config. \
         Install them with `apt-get install -y postgresql` (the README's commands do), or set \
         TEST_DATABASE_URL / LOYALTY__DATABASE__URL to a running server"
    )
}

/// How a cluster is set up.
#[derive(Clone, Debug)]
pub struct ClusterOptions {
    /// TCP port on 127.0.0.1.
    pub port: u16,
    /// Trade durability for speed (tests and benchmarks' scratch clusters only).
    pub fast_unsafe: bool,
    pub max_connections: u32,
}

impl Default for ClusterOptions {
    fn default() -> Self {
        Self { port: 54329, fast_unsafe: false, max_connections: 200 }
    }
}

/// A cluster living in `dir`, started or reused.
#[derive(Clone, Debug)]
pub struct Cluster {
    pub dir: PathBuf,
    pub port: u16,
}

/// Postgres refuses to run as root; then we run it as the `postgres` OS user.
fn running_as_root() -> bool {
    Command::new("id").arg("-u").output().map(|o| o.stdout.starts_with(b"0\n")).unwrap_or(false)
}

/// Runs a Postgres binary, as the `postgres` OS user when we are root.
fn pg_command(bin: &Path, tool: &str, as_postgres: bool) -> Command {
    if as_postgres {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(bin.join(tool));
        c
    } else {
        Command::new(bin.join(tool))
    }
}

fn run(mut command: Command, what: &str) -> anyhow::Result<String> {
    let out = command.stdin(Stdio::null()).output().with_context(|| format!("running {what}"))?;
    if !out.status.success() {
        bail!(
            "{what} failed ({}): {}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

impl Cluster {
    /// Initialises `dir` if it holds no cluster, starts the server if it is not running, and waits
    /// until it accepts connections. Safe to call from several processes at once.
    pub fn ensure_started(dir: &Path, options: &ClusterOptions) -> anyhow::Result<Cluster> {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let dir = dir.canonicalize()?;
        let lock = std::fs::File::create(dir.join("cluster.lock"))?;
        lock.lock().context("locking the cluster directory")?;
        let result = Self::ensure_started_locked(&dir, options);
        let _ = lock.unlock();
        result
    }

    fn ensure_started_locked(dir: &Path, options: &ClusterOptions) -> anyhow::Result<Cluster> {
        let bin = find_binaries()?;
        let as_postgres = running_as_root();
        let data = data_dir(dir, as_postgres)?;
        let port_file = dir.join("port");
        if !data.join("PG_VERSION").exists() {
            if as_postgres {
                let mut chown = Command::new("chown");
                chown.args(["-R", "postgres:postgres"]).arg(&data);
                run(chown, "chown of the cluster directory")?;
            }
            let mut initdb = pg_command(&bin, "initdb", as_postgres);
            initdb.arg("-D").arg(&data).args(["-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8"]);
            run(initdb, "initdb")?;
            std::fs::write(&port_file, options.port.to_string())?;
        }
        let port: u16 =
            std::fs::read_to_string(&port_file).ok().and_then(|p| p.trim().parse().ok()).unwrap_or(options.port);
        let cluster = Cluster { dir: dir.to_path_buf(), port };
        if cluster.is_ready(&bin) {
            return Ok(cluster);
        }
        let mut settings = format!(
            "-p {port} -k {sock} -c listen_addresses=127.0.0.1 -c max_connections={}",
            options.max_connections,
            sock = data.display()
        );
        if options.fast_unsafe {
            settings.push_str(" -c fsync=off -c synchronous_commit=off -c full_page_writes=off");
        }
        let mut start = pg_command(&bin, "pg_ctl", as_postgres);
        start
            .arg("-D")
            .arg(&data)
            .arg("-l")
            .arg(data.join("server.log"))
            .args(["-o", &settings, "-w", "-t", "60", "start"]);
        // pg_ctl's child keeps stdout open; send it to the log instead of a pipe we would wait on.
        start.stdout(Stdio::null()).stderr(Stdio::null()).stdin(Stdio::null());
        let status = start.status().context("running pg_ctl start")?;
        let deadline = Instant::now() + Duration::from_secs(60);
        while !cluster.is_ready(&bin) {
            if Instant::now() > deadline {
                let log = std::fs::read_to_string(data.join("server.log")).unwrap_or_default();
                let tail: String =
                    log.lines().rev().take(20).collect::<Vec<_>>().into_iter().rev().collect::<Vec<_>>().join("\n");
                bail!("Postgres in {} did not start (pg_ctl: {status}); its log ends:\n{tail}", data.display());
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        Ok(cluster)
    }

    fn is_ready(&self, bin: &Path) -> bool {
        Command::new(bin.join("pg_isready"))
            .args(["-q", "-h", "127.0.0.1", "-p", &self.port.to_string(), "-U", "postgres"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false)
    }

    /// Stops the server of `dir` if one runs there.
    pub fn stop(dir: &Path) -> anyhow::Result<bool> {
        let data = dir.join("data");
        let data = data.canonicalize().unwrap_or(data);
        if !data.join("postmaster.pid").exists() {
            return Ok(false);
        }
        let bin = find_binaries()?;
        let mut stop = pg_command(&bin, "pg_ctl", running_as_root());
        stop.arg("-D").arg(&data).args(["-m", "fast", "-w", "stop"]);
        run(stop, "pg_ctl stop")?;
        Ok(true)
    }

    /// URL of `database` on this cluster.
    pub fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }
}

/// The data directory of the cluster in `dir`: `dir/data`. When we run Postgres as the postgres OS
/// user and it cannot walk down to `dir` (a project under /root, say), the data lives in /var/tmp and
/// `dir/data` is a link to it.
fn data_dir(dir: &Path, as_postgres: bool) -> anyhow::Result<PathBuf> {
    let link = dir.join("data");
    if link.exists() {
        return Ok(link.canonicalize()?);
    }
    if !as_postgres || reachable_by_postgres(dir) {
        std::fs::create_dir_all(&link)?;
        return Ok(link);
    }
    let real = outside_data_dir(dir);
    std::fs::create_dir_all(&real)?;
    std::os::unix::fs::symlink(&real, &link).with_context(|| format!("linking {}", link.display()))?;
    Ok(real)
}

/// Where the data of the cluster in `dir` lives when Postgres cannot reach `dir` itself; the only
/// place outside `dir` that removing the cluster may delete.
pub fn outside_data_dir(dir: &Path) -> PathBuf {
    let mut hasher = std::hash::DefaultHasher::new();
    std::hash::Hash::hash(&dir, &mut hasher);
    PathBuf::from(format!("/var/tmp/loyalty-pg-{:016x}", std::hash::Hasher::finish(&hasher)))
}

fn reachable_by_postgres(dir: &Path) -> bool {
    Command::new("runuser")
        .args(["-u", "postgres", "--", "test", "-x"])
        .arg(dir)
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}
