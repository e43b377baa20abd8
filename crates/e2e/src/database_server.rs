//! A database server of a test's own: the stack's SecantusDB binary on a
//! free port with its own data directory, so a test can kill it -9 and start
//! it again on the same data without disturbing any other test.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use platform::testkit::repo_root;

/// A free TCP port on the loopback interface.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("a free port")
        .local_addr()
        .expect("address")
        .port()
}

pub struct DatabaseServer {
    pub port: u16,
    data: PathBuf,
    log: PathBuf,
    child: Option<Child>,
}

impl DatabaseServer {
    /// Starts a server on a free port with an empty data directory.
    pub async fn start(tag: &str) -> Self {
        let port = free_port();
        let data = repo_root().join(format!(".local/stack/tests/mongo-{tag}"));
        let _ = std::fs::remove_dir_all(&data);
        std::fs::create_dir_all(&data).expect("data dir");
        let logs = repo_root().join(".local/logs/tests");
        std::fs::create_dir_all(&logs).expect("log dir");
        let mut server = Self {
            port,
            data,
            log: logs.join(format!("{tag}-secantusdb.log")),
            child: None,
        };
        server.restart().await;
        server
    }

    /// `MONGODB_URI` of this server, with retryable writes off as the
    /// local stack has them (docs/OPERATIONS.md).
    pub fn uri(&self) -> String {
        format!(
            "mongodb://127.0.0.1:{}/?directConnection=true&retryWrites=false",
            self.port
        )
    }

    /// Kills the server without warning: what it has not made durable is lost.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server on the same port and data; returns once it accepts
    /// connections.
    pub async fn restart(&mut self) {
        self.kill9();
        let binary = repo_root().join(".local/venv/bin/secantusd-py");
        assert!(binary.exists(), "{} is missing; run `make stack-up`", binary.display());
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("log file");
        let child = Command::new(binary)
            .args([
                "--host",
                "127.0.0.1",
                "--port",
                &self.port.to_string(),
                "--storage-path",
            ])
            .arg(&self.data)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log file"))
            .stderr(log)
            .spawn()
            .expect("the database server starts");
        self.child = Some(child);
        let start = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "the database server did not listen within a minute: {}",
                std::fs::read_to_string(&self.log).unwrap_or_default()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for DatabaseServer {
    fn drop(&mut self) {
        self.kill9();
        let _ = std::fs::remove_dir_all(&self.data);
    }
}
