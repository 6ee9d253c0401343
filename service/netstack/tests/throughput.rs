//! `cargo test --release -p hypha-netstack --test throughput -- --ignored --nocapture`

mod common;

use std::time::Instant;

use common::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement, not a check: run in release"]
async fn throughput_200_mib() {
    const TOTAL: usize = 200 * 1024 * 1024;
    let (a, b) = pair(0, |_| {});
    let mut listener = b.listen(80).await.unwrap();
    let server = tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        let mut buf = vec![0; 64 * 1024];
        let mut n = 0;
        loop {
            match stream.read(&mut buf).await.unwrap() {
                0 => break n,
                k => n += k,
            }
        }
    });
    let mut stream = a.connect(addr(B, 80)).await.unwrap();
    let chunk = pattern(9, 64 * 1024);
    let t = Instant::now();
    for _ in 0..TOTAL / chunk.len() {
        stream.write_all(&chunk).await.unwrap();
    }
    stream.shutdown().await.unwrap();
    assert_eq!(server.await.unwrap(), TOTAL);
    let secs = t.elapsed().as_secs_f64();
    println!(
        "200 MiB back to back: {secs:.2} s, {:.1} MB/s",
        TOTAL as f64 / secs / 1e6
    );
}
