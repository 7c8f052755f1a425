//! The SMTP conversation itself, for speed: one connection per slot of the provider's concurrency,
//! kept open between messages, `TCP_NODELAY` (a command never waits for the previous packet's
//! acknowledgement), and with PIPELINING (RFC 2920) the envelope and DATA in one write, so a
//! message costs two round trips. STARTTLS or TLS from the first byte on rustls (ring), and AUTH
//! PLAIN. The message itself is written by lettre's builder.
use anyhow::Context;
use base64::Engine;
use std::sync::Arc;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

/// How to reach the server.
#[derive(Clone)]
pub struct Server {
    pub host: String,
    pub port: u16,
    pub security: Security,
    pub login: Option<(String, String)>,
    /// The name we greet with.
    pub hello: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Security {
    None,
    StartTls,
    Tls,
}

/// A reply the server gave: its code and text.
#[derive(Debug)]
pub struct Reply {
    pub code: u16,
    pub text: String,
}

impl Reply {
    fn ok(&self) -> bool {
        (200..400).contains(&self.code)
    }
}

/// Why a message was not taken: the server said no (with its reply), or the connection failed.
#[derive(Debug)]
pub enum Refusal {
    Said(Reply),
    Broken(anyhow::Error),
}

pub struct Connection {
    stream: BufReader<Box<dyn Stream>>,
    pipelining: bool,
}

fn tls() -> anyhow::Result<tokio_rustls::TlsConnector> {
    let roots = rustls::RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(tokio_rustls::TlsConnector::from(Arc::new(config)))
}

async fn wrap(stream: Box<dyn Stream>, host: &str) -> anyhow::Result<Box<dyn Stream>> {
    let name = rustls::pki_types::ServerName::try_from(host.to_string()).context("the SMTP host name")?;
    Ok(Box::new(tls()?.connect(name, stream).await.context("the TLS handshake with the SMTP server")?))
}

impl Connection {
    pub async fn open(s: &Server) -> anyhow::Result<Connection> {
        let tcp = TcpStream::connect((s.host.as_str(), s.port))
            .await
            .with_context(|| format!("connecting to {}:{}", s.host, s.port))?;
        tcp.set_nodelay(true)?;
        let mut stream: Box<dyn Stream> = Box::new(tcp);
        if s.security == Security::Tls {
            stream = wrap(stream, &s.host).await?;
        }
        let mut c = Connection { stream: BufReader::new(stream), pipelining: false };
        c.expect(220, "the greeting").await?;
        let mut features = c.hello(&s.hello).await?;
        if s.security == Security::StartTls {
            anyhow::ensure!(features.iter().any(|f| f == "STARTTLS"), "the server does not offer STARTTLS");
            c.command("STARTTLS\r\n").await?;
            c.expect(220, "STARTTLS").await?;
            let plain = c.stream.into_inner();
            c = Connection { stream: BufReader::new(wrap(plain, &s.host).await?), pipelining: false };
            features = c.hello(&s.hello).await?;
        }
        c.pipelining = features.iter().any(|f| f == "PIPELINING");
        if let Some((user, password)) = &s.login {
            let token = base64::engine::general_purpose::STANDARD.encode(format!("\0{user}\0{password}"));
            c.command(&format!("AUTH PLAIN {token}\r\n")).await?;
            c.expect(235, "the login").await?;
        }
        Ok(c)
    }

    /// EHLO; the extensions the server offers, upper case.
    async fn hello(&mut self, name: &str) -> anyhow::Result<Vec<String>> {
        self.command(&format!("EHLO {name}\r\n")).await?;
        let (reply, lines) = self.read_lines().await?;
        anyhow::ensure!(reply.code == 250, "EHLO was refused: {} {}", reply.code, reply.text);
        Ok(lines.iter().skip(1).map(|l| l.split_whitespace().next().unwrap_or("").to_ascii_uppercase()).collect())
    }

    async fn command(&mut self, text: &str) -> anyhow::Result<()> {
        self.stream.get_mut().write_all(text.as_bytes()).await?;
        self.stream.get_mut().flush().await?;
        Ok(())
    }

    async fn expect(&mut self, code: u16, what: &str) -> anyhow::Result<()> {
        let reply = self.read().await?;
        anyhow::ensure!(reply.code == code, "{what}: the server answered {} {}", reply.code, reply.text);
        Ok(())
    }

    async fn read(&mut self) -> anyhow::Result<Reply> {
        Ok(self.read_lines().await?.0)
    }

    /// One reply, over as many lines as it takes ("250-..." then "250 ...").
    async fn read_lines(&mut self) -> anyhow::Result<(Reply, Vec<String>)> {
        let mut lines = Vec::new();
        loop {
            let mut line = String::new();
            let n = self.stream.read_line(&mut line).await?;
            anyhow::ensure!(n > 0, "the SMTP server closed the connection");
            anyhow::ensure!(line.len() >= 3 && line.is_char_boundary(3), "the SMTP server sent {line:?}");
            let code: u16 = line[..3].parse().with_context(|| format!("the SMTP server sent {line:?}"))?;
            let last = line.as_bytes().get(3) != Some(&b'-');
            lines.push(line.get(4..).unwrap_or("").trim_end().to_string());
            if last {
                let text = lines.join(" ");
                return Ok((Reply { code, text }, lines));
            }
        }
    }

    /// Sends one message (`body` as lettre formatted it) from `from` to `to`.
    pub async fn send(&mut self, from: &str, to: &str, body: &[u8]) -> Result<Reply, Refusal> {
        let broken = Refusal::Broken;
        let envelope = [format!("MAIL FROM:<{from}>\r\n"), format!("RCPT TO:<{to}>\r\n"), "DATA\r\n".to_string()];
        let mut replies = Vec::with_capacity(3);
        if self.pipelining {
            self.command(&envelope.concat()).await.map_err(broken)?;
            for _ in 0..3 {
                replies.push(self.read().await.map_err(broken)?);
            }
        } else {
            for command in &envelope {
                self.command(command).await.map_err(broken)?;
                let reply = self.read().await.map_err(broken)?;
                let ok = reply.ok();
                replies.push(reply);
                if !ok {
                    break;
                }
            }
        }
        if let Some(refused) = replies.iter().position(|r| !r.ok()) {
            let data_went = replies.get(2).is_some_and(|r| r.code == 354);
            if data_went {
                // The server wants the message although it refused the envelope: end it empty.
                self.command("\r\n.\r\n").await.map_err(broken)?;
                self.read().await.map_err(broken)?;
            }
            self.command("RSET\r\n").await.map_err(broken)?;
            self.read().await.map_err(broken)?;
            return Err(Refusal::Said(replies.swap_remove(refused)));
        }
        let mut data = Vec::with_capacity(body.len() + 64);
        let mut at_line_start = true;
        for &b in body {
            if at_line_start && b == b'.' {
                data.push(b'.');
            }
            data.push(b);
            at_line_start = b == b'\n';
        }
        if !data.ends_with(b"\r\n") {
            data.extend_from_slice(b"\r\n");
        }
        data.extend_from_slice(b".\r\n");
        self.stream.get_mut().write_all(&data).await.map_err(|e| broken(e.into()))?;
        self.stream.get_mut().flush().await.map_err(|e| broken(e.into()))?;
        let reply = self.read().await.map_err(broken)?;
        if reply.ok() { Ok(reply) } else { Err(Refusal::Said(reply)) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A scripted server: answers each line as a real one would, and keeps what it received.
    async fn server(pipelining: bool) -> (u16, tokio::task::JoinHandle<String>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let task = tokio::spawn(async move {
            let (socket, _) = listener.accept().await.expect("accept");
            let (read, mut write) = socket.into_split();
            let mut read = BufReader::new(read);
            write.write_all(b"220 test ESMTP\r\n").await.expect("greet");
            let (mut seen, mut in_data) = (String::new(), false);
            loop {
                let mut line = String::new();
                if read.read_line(&mut line).await.unwrap_or(0) == 0 {
                    break;
                }
                seen.push_str(&line);
                let l = line.trim_end();
                let answer = match l {
                    "." if in_data => {
                        in_data = false;
                        "250 2.0.0 queued as ABC\r\n"
                    }
                    _ if in_data => continue,
                    l if l.starts_with("EHLO") && pipelining => "250-test\r\n250 PIPELINING\r\n",
                    l if l.starts_with("EHLO") => "250 test\r\n",
                    l if l.starts_with("RCPT TO:<nobody@") => "550 5.1.1 no such user\r\n",
                    l if l.starts_with("MAIL") || l.starts_with("RCPT") => "250 ok\r\n",
                    "DATA" => {
                        in_data = true;
                        "354 go on\r\n"
                    }
                    "RSET" => "250 reset\r\n",
                    _ => "500 what\r\n",
                };
                write.write_all(answer.as_bytes()).await.expect("answer");
            }
            seen
        });
        (port, task)
    }

    fn local(port: u16) -> Server {
        Server { host: "127.0.0.1".into(), port, security: Security::None, login: None, hello: "sender.test".into() }
    }

    #[tokio::test]
    async fn pipelined_sends_dot_stuff_and_a_refused_recipient_leaves_the_connection_usable() {
        for pipelining in [true, false] {
            let (port, seen) = server(pipelining).await;
            let mut c = Connection::open(&local(port)).await.expect("connects");
            let taken =
                c.send("news@shop.test", "ona@example.lt", b"Subject: x\r\n\r\n.hidden\r\nline").await.expect("taken");
            assert_eq!(taken.code, 250);
            match c.send("news@shop.test", "nobody@example.lt", b"Subject: y\r\n\r\nz").await {
                Err(Refusal::Said(r)) => assert_eq!(r.code, 550),
                other => panic!("expected the 550, got {other:?}"),
            }
            c.send("news@shop.test", "jonas@example.lt", b"Subject: z\r\n\r\nok").await.expect("the next one goes");
            drop(c);
            let seen = seen.await.expect("server");
            assert!(seen.contains("\r\n..hidden\r\nline\r\n.\r\n"), "dot-stuffed: {seen:?}");
            assert_eq!(seen.matches("RSET").count(), 1, "{seen}");
        }
    }
}
