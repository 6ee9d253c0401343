//! The local API against real `hyphad` processes (in namespaces, so needs root).

mod lab;

use std::time::Duration;

use hypha_ipc::api::{ErrorCode, Event, Request, Response};
use hypha_ipc::client::ClientError;
use lab::{Lab, client, rt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[test]
fn status_peers_events_and_persistence() {
    let mut lab = Lab::new();
    let (a, b) = (lab.ns("a"), lab.ns("b"));
    let (_, _, _, ab) = lab.veth(&a, &b);
    let args = ["--no-multicast", "--no-tun"];
    let da = lab.start(&a, "a", &args);
    let db = lab.start(&b, "b", &args);
    let b_id = lab.d(db).id();
    let uri = format!("udp://{ab}:9651");
    rt().block_on(async {
        let mut c = client(&lab, da).await;
        let Response::Status(s) = c.request(Request::Status).await.unwrap() else {
            panic!()
        };
        assert_eq!(s.node_id, lab.d(da).id());
        assert!(s.tun.is_none());
        assert!(s.counters.contains_key("counters.forwardedPackets"));
        // Events arrive as they happen: subscribe, then add the peer.
        let mut watcher = client(&lab, da).await;
        assert_eq!(
            watcher.request(Request::Subscribe).await.unwrap(),
            Response::Done
        );
        let t0 = std::time::Instant::now();
        assert_eq!(
            c.request(Request::AddPeer { uri: uri.clone() })
                .await
                .unwrap(),
            Response::Done
        );
        let up = tokio::time::timeout(Duration::from_secs(5), async {
            loop {
                if let Event::PeerUp { node_id, .. } = watcher.next_event().await.unwrap() {
                    return node_id;
                }
            }
        })
        .await
        .expect("peer-up event");
        assert_eq!(up, b_id);
        println!("peer-up event {:?} after add", t0.elapsed());
        let Response::Peers(p) = c.request(Request::Peers).await.unwrap() else {
            panic!()
        };
        assert_eq!(p.configured, vec![uri.clone()]);
        assert!(
            p.links
                .iter()
                .any(|l| l.state == "up" && l.node_id.as_deref() == Some(b_id.as_str()))
        );
        let Response::Metrics(m) = c.request(Request::Metrics).await.unwrap() else {
            panic!()
        };
        assert!(m.contains("hypha_links_up 1"), "{m}");
        let err = c
            .request(Request::RemovePeer {
                uri: "udp://10.9.9.9:1".into(),
            })
            .await;
        assert!(matches!(err, Err(ClientError::Api(e)) if e.code == ErrorCode::NotFound));
        for uri in ["gopher://x:1", "udp://a\nb:1", "udp://a\0b:1"] {
            let err = c.request(Request::AddPeer { uri: uri.into() }).await;
            assert!(matches!(err, Err(ClientError::Api(e)) if e.code == ErrorCode::BadRequest));
        }
    });
    // The added peer survives a restart, and bad entries written into peers.json by hand are
    // skipped with a warning naming the file and the entry instead of keeping the node down.
    let peers_json = lab.path("a").join("peers.json");
    let mut stored: Vec<String> =
        serde_json::from_slice(&std::fs::read(&peers_json).unwrap()).unwrap();
    stored.push("udp://bad host:1".into());
    stored.push("gopher://x:1".into());
    std::fs::write(&peers_json, serde_json::to_vec(&stored).unwrap()).unwrap();
    lab.restart(da, "a", &args);
    lab.wait(Duration::from_secs(10), "link back after restart", || {
        lab.d(da).linked().contains(&b_id)
    });
    let log = lab.d(da).log();
    assert!(
        log.contains("peers.json: skipping peer \"gopher://x:1\""),
        "{log}"
    );
    rt().block_on(async {
        let mut c = client(&lab, da).await;
        assert_eq!(
            c.request(Request::RemovePeer { uri: uri.clone() })
                .await
                .unwrap(),
            Response::Done
        );
        let Response::Peers(p) = c.request(Request::Peers).await.unwrap() else {
            panic!()
        };
        assert!(p.configured.is_empty());
    });

    // A lost key beside an existing node's state: the daemon refuses to start as someone new.
    lab.stop(da);
    std::fs::remove_file(lab.path("a").join("key")).unwrap();
    let again = lab.start(&a, "a", &args);
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while lab.d_mut(again).alive() {
        assert!(
            std::time::Instant::now() < deadline,
            "a started without its key"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let log = lab.d(again).log();
    assert!(
        log.contains("is missing") && log.contains("peers.json"),
        "{log}"
    );
    assert!(!lab.path("a").join("key").exists(), "no new key was made");
}

async fn raw_exchange(path: &std::path::Path, bytes: &[u8]) -> serde_json::Value {
    let mut s = tokio::net::UnixStream::connect(path).await.unwrap();
    s.write_all(bytes).await.unwrap();
    let mut len = [0u8; 4];
    s.read_exact(&mut len).await.unwrap();
    let mut buf = vec![0u8; u32::from_be_bytes(len) as usize];
    s.read_exact(&mut buf).await.unwrap();
    serde_json::from_slice(&buf).unwrap()
}

fn frame(v: &serde_json::Value) -> Vec<u8> {
    let body = serde_json::to_vec(v).unwrap();
    let mut out = (body.len() as u32).to_be_bytes().to_vec();
    out.extend_from_slice(&body);
    out
}

#[test]
fn bad_clients_get_clear_errors_and_the_service_lives() {
    let mut lab = Lab::new();
    let a = lab.ns("a");
    let da = lab.start(&a, "a", &["--no-multicast", "--no-tun"]);
    let path = lab.d(da).socket.clone();
    rt().block_on(async {
        drop(client(&lab, da).await);
        let mut garbage = 5u32.to_be_bytes().to_vec();
        garbage.extend_from_slice(b"}{}{}");
        let r = raw_exchange(&path, &garbage).await;
        assert_eq!(r["error"]["code"], "badRequest", "{r}");
        let r = raw_exchange(
            &path,
            &frame(&serde_json::json!({"hello": {"version": 99, "client": "x"}})),
        )
        .await;
        assert_eq!(r["error"]["code"], "unsupportedVersion", "{r}");
        assert!(r["error"]["message"].as_str().unwrap().contains("99"));
        let r = raw_exchange(&path, &u32::MAX.to_be_bytes()).await;
        assert_eq!(r["error"]["code"], "tooLarge", "{r}");
        let r = raw_exchange(
            &path,
            &frame(&serde_json::json!({"request": {"id": 1, "request": {"type": "status"}}})),
        )
        .await;
        assert_eq!(r["error"]["code"], "badRequest", "{r}");
        // Still serving.
        let mut c = client(&lab, da).await;
        let Response::Metrics(m) = c.request(Request::Metrics).await.unwrap() else {
            panic!()
        };
        assert!(m.contains("hypha_api_bad_frames_total 3"), "{m}");
        assert!(m.contains("hypha_api_bad_version_total 1"), "{m}");
    });
    assert!(lab.d_mut(da).alive());
}

/// Connects as uid 65534 (`nobody`), with or without the `hypha` group, and says hello.
fn hello_as_nobody(lab: &Lab, path: &std::path::Path, with_group: Option<u32>) -> String {
    let script = format!(
        "import socket,struct,json\n\
         s=socket.socket(socket.AF_UNIX)\n\
         try:\n    s.connect('{}')\n\
         except PermissionError:\n    print('EACCES'); raise SystemExit\n\
         b=json.dumps({{'hello':{{'version':1,'client':'nobody'}}}}).encode()\n\
         s.sendall(struct.pack('>I',len(b))+b)\n\
         n=struct.unpack('>I',s.recv(4))[0]\n\
         print(s.recv(n).decode())\n",
        path.display()
    );
    let groups = with_group.map_or("--clear-groups".to_string(), |g| format!("--groups={g}"));
    let out = std::process::Command::new("setpriv")
        .args([
            "--reuid=65534",
            "--regid=65534",
            &groups,
            "/usr/bin/python3",
            "-c",
            &script,
        ])
        .output()
        .unwrap();
    let _ = lab;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
fn only_root_and_the_hypha_group_may_use_the_api() {
    lab::require_root();
    // The installer creates this group; make sure it exists here (idempotent).
    let _ = std::process::Command::new("groupadd")
        .args(["--system", "-f", "hypha"])
        .status();
    let gid = std::fs::read_to_string("/etc/group")
        .unwrap()
        .lines()
        .find(|l| l.starts_with("hypha:"))
        .and_then(|l| l.split(':').nth(2)?.parse::<u32>().ok())
        .expect("hypha group");
    let mut lab = Lab::new();
    let a = lab.ns("a");
    let da = lab.start(&a, "a", &["--no-multicast", "--no-tun"]);
    rt().block_on(async { drop(client(&lab, da).await) });
    let path = lab.d(da).socket.clone();
    assert_eq!(hello_as_nobody(&lab, &path, None), "EACCES");
    let answer = hello_as_nobody(&lab, &path, Some(gid));
    assert!(answer.contains("welcome"), "{answer}");
}

/// A send with a client-chosen id is idempotent: the same request again (a retry after a
/// crash or a lost answer) queues nothing new; the same id for another message is refused.
#[test]
fn sending_with_a_chosen_id_twice_queues_one_message() {
    use base64::Engine;
    let mut lab = Lab::new();
    let a = lab.ns("a");
    let da = lab.start(&a, "a", &["--no-multicast", "--no-tun"]);
    let to = hypha_proto::identity::Identity::from_seed([5; 32])
        .node_id()
        .to_hex();
    let id = "00112233445566778899aabbccddeeff".to_string();
    let req = |payload: &[u8]| {
        Request::Send(hypha_ipc::api::SendRequest {
            to: to.clone(),
            topic: "t".into(),
            payload: base64::engine::general_purpose::STANDARD.encode(payload),
            deadline_s: None,
            reply_to: None,
            id: Some(id.clone()),
        })
    };
    rt().block_on(async {
        let mut c = client(&lab, da).await;
        for _ in 0..2 {
            let r = c.request(req(b"hello")).await.unwrap();
            assert_eq!(r, Response::Sent { id: id.clone() });
        }
        let Response::Messages(m) = c.request(Request::Messages).await.unwrap() else {
            panic!()
        };
        assert_eq!(m.outbox.len(), 1, "{:?}", m.outbox);
        assert_eq!(m.outbox[0].id, id);
        let err = c.request(req(b"something else")).await;
        assert!(matches!(err, Err(ClientError::Api(e)) if e.code == ErrorCode::BadRequest));
    });
}
