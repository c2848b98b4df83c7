//! A real `redis-server` (Debian's package) for one test: on a free loopback port, with no
//! persistence (`--save '' --appendonly no`) and its working folder in a temp dir. It can be
//! stopped and started again on the same port (the "Redis went away" test), and is always
//! killed when dropped. `start_tls` serves TLS only, with a password and a self-signed
//! certificate for 127.0.0.1 made by the `openssl` command.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Where Debian puts it; `REDIS_SERVER` overrides.
pub fn binary() -> PathBuf {
    std::env::var_os("REDIS_SERVER")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/redis-server"))
}

pub struct RedisServer {
    child: Option<Child>,
    pub port: u16,
    dir: tempfile::TempDir,
    /// TLS only, with this password: the certificate is `certificate()`.
    tls_password: Option<String>,
}

impl RedisServer {
    pub fn start() -> RedisServer {
        assert!(
            binary().exists(),
            "{} is missing: apt-get install redis-server (the CI script does)",
            binary().display()
        );
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let mut server = RedisServer {
            child: None,
            port,
            dir: tempfile::tempdir().expect("a temp dir"),
            tls_password: None,
        };
        server.restart();
        server
    }

    /// A server that speaks only TLS (no plain port) and wants `password`.
    pub fn start_tls(password: &str) -> RedisServer {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let dir = tempfile::tempdir().expect("a temp dir");
        let made = Command::new("openssl")
            .args([
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            ])
            .args([
                "-subj",
                "/CN=127.0.0.1",
                "-addext",
                "subjectAltName=IP:127.0.0.1",
            ])
            .arg("-keyout")
            .arg(dir.path().join("key.pem"))
            .arg("-out")
            .arg(dir.path().join("cert.pem"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("openssl is installed (the CI script does)");
        assert!(made.success(), "openssl made no certificate");
        let mut server = RedisServer {
            child: None,
            port,
            dir,
            tls_password: Some(password.to_owned()),
        };
        server.restart();
        server
    }

    /// The TLS server's certificate, which is its own authority.
    pub fn certificate(&self) -> PathBuf {
        self.dir.path().join("cert.pem")
    }

    /// `redis://127.0.0.1:PORT/DB`.
    pub fn url(&self, db: u8) -> String {
        format!("redis://127.0.0.1:{}/{db}", self.port)
    }

    /// Kills the server (as a crash would) and waits until it is gone.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it (again) on the same port and waits until it answers PING.
    pub fn restart(&mut self) {
        self.stop();
        let mut command = Command::new(binary());
        match &self.tls_password {
            None => command.args(["--port", &self.port.to_string()]),
            Some(password) => command
                .args(["--port", "0", "--tls-port", &self.port.to_string()])
                .arg("--tls-cert-file")
                .arg(self.certificate())
                .arg("--tls-key-file")
                .arg(self.dir.path().join("key.pem"))
                .arg("--tls-ca-cert-file")
                .arg(self.certificate())
                .args(["--tls-auth-clients", "no", "--requirepass", password]),
        };
        let child = command
            .args(["--bind", "127.0.0.1"])
            .args(["--save", ""])
            .args(["--appendonly", "no"])
            .arg("--dir")
            .arg(self.dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server starts");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(30);
        while !self.answers() {
            assert!(Instant::now() < deadline, "redis-server did not answer");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn answers(&self) -> bool {
        let Ok(mut stream) = TcpStream::connect(("127.0.0.1", self.port)) else {
            return false;
        };
        if self.tls_password.is_some() {
            // Listening is all a plain socket can tell of a TLS server.
            return true;
        }
        let _ = stream.set_read_timeout(Some(Duration::from_secs(1)));
        let mut reply = [0u8; 7];
        stream.write_all(b"PING\r\n").is_ok()
            && stream.read_exact(&mut reply).is_ok()
            && &reply == b"+PONG\r\n"
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}
