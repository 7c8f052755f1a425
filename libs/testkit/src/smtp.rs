//! A real SMTP server for tests: Python's aiosmtpd (Debian's `python3-aiosmtpd`) writing every
//! message it accepts into a Maildir, and the messages read back as a recipient's mail program
//! would read them (headers decoded, the HTML and the plain-text parts apart).
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct SmtpServer {
    child: Child,
    pub port: u16,
    dir: PathBuf,
}

/// One message as it arrived.
#[derive(Clone, Debug)]
pub struct Mail {
    pub to: String,
    pub from: String,
    pub subject: String,
    pub message_id: String,
    pub html: String,
    pub text: String,
    /// Raw header values by name, as the server received them.
    pub headers: Vec<(String, String)>,
    /// When the server wrote it down.
    pub received_at: std::time::SystemTime,
}

impl Mail {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

impl SmtpServer {
    /// Starts aiosmtpd on a free local port; panics saying what to install when it cannot.
    pub fn start() -> SmtpServer {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .unwrap_or_else(|e| panic!("no free port for the test SMTP server: {e}"));
        let dir = std::env::temp_dir().join(format!("loyalty-smtp-{}-{port}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let child = Command::new("/usr/bin/python3")
            .args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}"), "-c", "aiosmtpd.handlers.Mailbox"])
            .arg(&dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("starting aiosmtpd (apt-get install python3-aiosmtpd; .ci/ensure-tools does): {e}")
            });
        let server = SmtpServer { child, port, dir };
        let deadline = Instant::now() + Duration::from_secs(15);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "aiosmtpd did not listen on port {port} within 15 s (is python3-aiosmtpd installed? .ci/ensure-tools installs it)"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        server
    }

    /// Every message received so far.
    pub fn mails(&self) -> Vec<Mail> {
        let mut mails = Vec::new();
        for sub in ["new", "cur"] {
            let Ok(entries) = std::fs::read_dir(self.dir.join(sub)) else { continue };
            for entry in entries.flatten() {
                let received_at = entry.metadata().and_then(|m| m.modified()).unwrap_or(std::time::UNIX_EPOCH);
                if let Ok(bytes) = std::fs::read(entry.path())
                    && let Some(mail) = parse(&bytes, received_at)
                {
                    mails.push(mail);
                }
            }
        }
        mails
    }

    /// Waits until at least `n` messages arrived (panics after `within`), then a moment more so a
    /// message too many would show.
    pub async fn wait_for(&self, n: usize, within: Duration) -> Vec<Mail> {
        let deadline = Instant::now() + within;
        loop {
            let mails = self.mails();
            if mails.len() >= n {
                tokio::time::sleep(Duration::from_millis(300)).await;
                return self.mails();
            }
            assert!(Instant::now() < deadline, "{} of {n} messages arrived within {within:?}", mails.len());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

fn parse(bytes: &[u8], received_at: std::time::SystemTime) -> Option<Mail> {
    let m = mail_parser::MessageParser::default().parse(bytes)?;
    let first = |a: Option<&mail_parser::Address>| {
        a.and_then(|a| a.first()).and_then(|a| a.address()).map(str::to_string).unwrap_or_default()
    };
    let headers = m
        .headers_raw()
        .map(|(name, value)| (name.to_string(), value.trim().replace("\r\n", "").replace('\n', "")))
        .collect();
    Some(Mail {
        to: first(m.to()),
        from: first(m.from()),
        subject: m.subject().unwrap_or_default().to_string(),
        message_id: m.message_id().unwrap_or_default().to_string(),
        html: m.body_html(0).map(|b| b.to_string()).unwrap_or_default(),
        text: m.body_text(0).map(|b| b.to_string()).unwrap_or_default(),
        headers,
        received_at,
    })
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
