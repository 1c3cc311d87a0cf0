//! An HTTP CONNECT proxy on loopback, as a company network puts between its
//! machines and the internet: it opens a tunnel to the asked `host:port`
//! (after checking `Proxy-Authorization` when it has credentials), pumps
//! bytes both ways, and records each tunnel's target.

use base64::Engine as _;
use std::io::{BufRead, BufReader, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// A running proxy; stops when dropped.
pub struct ConnectProxy {
    /// `127.0.0.1:port`.
    pub addr: std::net::SocketAddr,
    tunnels: Arc<Mutex<Vec<String>>>,
    refused: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl ConnectProxy {
    /// Starts on an ephemeral port; with `credentials`, a tunnel needs
    /// `Proxy-Authorization: Basic` of `user:password`, else 407.
    pub fn start(credentials: Option<(&str, &str)>) -> std::io::Result<ConnectProxy> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let expected = credentials.map(|(u, p)| {
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"))
            )
        });
        let tunnels = Arc::new(Mutex::new(Vec::new()));
        let refused = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (tunnels2, refused2, stop2) = (tunnels.clone(), refused.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stop2.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let (tunnels, refused, expected) = (tunnels2.clone(), refused2.clone(), expected.clone());
                std::thread::spawn(move || {
                    let _ = tunnel(stream, expected.as_deref(), &tunnels, &refused);
                });
            }
        });
        Ok(ConnectProxy {
            addr,
            tunnels,
            refused,
            stop,
            thread: Some(thread),
        })
    }

    /// The proxy's URL, with these credentials in it if given.
    pub fn url(&self, credentials: Option<(&str, &str)>) -> String {
        match credentials {
            Some((u, p)) => format!("http://{u}:{p}@{}", self.addr),
            None => format!("http://{}", self.addr),
        }
    }

    /// The `host:port` of every tunnel opened, in order.
    pub fn tunnels(&self) -> Vec<String> {
        self.tunnels.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The targets refused for want of the right credentials.
    pub fn refused(&self) -> Vec<String> {
        self.refused.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

fn tunnel(
    client: TcpStream,
    expected: Option<&str>,
    tunnels: &Mutex<Vec<String>>,
    refused: &Mutex<Vec<String>>,
) -> std::io::Result<()> {
    client.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut reader = BufReader::new(client.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let mut parts = line.split_whitespace();
    let (Some("CONNECT"), Some(target)) = (parts.next(), parts.next()) else {
        let mut c = client;
        c.write_all(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")?;
        return Ok(());
    };
    let target = target.to_string();
    let mut authorization = None;
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h)? == 0 || h.trim_end().is_empty() {
            break;
        }
        if let Some((k, v)) = h.trim_end().split_once(':') {
            if k.trim().eq_ignore_ascii_case("proxy-authorization") {
                authorization = Some(v.trim().to_string());
            }
        }
    }
    let mut c = client.try_clone()?;
    if expected.is_some() && authorization.as_deref() != expected {
        refused.lock().unwrap_or_else(|p| p.into_inner()).push(target);
        c.write_all(b"HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=\"test\"\r\nContent-Length: 0\r\n\r\n")?;
        return Ok(());
    }
    let upstream = match TcpStream::connect(&target) {
        Ok(s) => s,
        Err(_) => {
            c.write_all(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")?;
            return Ok(());
        }
    };
    tunnels.lock().unwrap_or_else(|p| p.into_inner()).push(target);
    c.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")?;
    // Bytes the client sent after its head are in the reader's buffer.
    let early = reader.buffer().to_vec();
    let mut up = upstream.try_clone()?;
    up.write_all(&early)?;
    let down = std::thread::spawn({
        let mut from = upstream.try_clone()?;
        let mut to = client.try_clone()?;
        move || {
            let _ = std::io::copy(&mut from, &mut to);
            let _ = to.shutdown(Shutdown::Write);
        }
    });
    let mut from = reader.into_inner();
    let _ = std::io::copy(&mut from, &mut up);
    let _ = up.shutdown(Shutdown::Write);
    let _ = down.join();
    Ok(())
}

impl Drop for ConnectProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.addr);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
