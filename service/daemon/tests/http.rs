//! The HTTP API with `curl`, against real `hyphad` processes in namespaces (each on its own
//! loopback): the token is required, status/peers/send/recv work, the OpenAPI document
//! passes a real validator and `/metrics` passes `promtool check metrics`, with every status
//! counter in it.

mod lab;

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use lab::Lab;
use serde_json::Value;

const API: &str = "127.0.0.1:8990";

/// `curl` inside `ns`: (HTTP status, body).
fn curl(lab: &Lab, ns: &str, token: Option<&str>, args: &[&str]) -> (u16, String) {
    let mut cmd = vec!["curl", "-sS", "-o", "-", "-w", "\n%{http_code}"];
    let auth;
    if let Some(t) = token {
        auth = format!("Authorization: Bearer {t}");
        cmd.extend(["-H", &auth]);
    }
    cmd.extend(args);
    let out = lab.exec(ns, &cmd);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "curl {args:?}: {text} {:?}", out);
    let (body, code) = text.rsplit_once('\n').expect("status line");
    (code.trim().parse().expect("status"), body.to_string())
}

/// `curl -X POST` of a JSON body to `path` in namespace `ns`.
fn post_json(lab: &Lab, ns: &str, token: &str, path: &str, body: &str) -> (u16, String) {
    curl(
        lab,
        ns,
        Some(token),
        &[
            "-X",
            "POST",
            "-H",
            "content-type: application/json",
            "-d",
            body,
            &url(path),
        ],
    )
}

fn json(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"))
}

fn url(path: &str) -> String {
    format!("http://{API}{path}")
}

/// A program the test command installs; failing loudly when missing (a skip is not a pass).
fn tool(env: &str, name: &str) -> String {
    if let Ok(p) = std::env::var(env) {
        return p;
    }
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {name}")])
        .output()
        .expect("sh");
    assert!(
        found.status.success(),
        "{name} is not installed: run .ci/test.sh (it installs it), or set {env}"
    );
    String::from_utf8_lossy(&found.stdout).trim().to_string()
}

/// `counters.datagramsIn` → `hypha_counters_datagrams_in_total`, as the service names them.
fn metric_name(key: &str) -> String {
    let (group, name) = key.split_once('.').unwrap();
    let snake: String = name
        .chars()
        .flat_map(|c| match c.is_ascii_uppercase() {
            true => vec!['_', c.to_ascii_lowercase()],
            false => vec![c],
        })
        .collect();
    format!("hypha_{group}_{snake}_total")
}

#[test]
fn curl_with_the_token_gets_status_peers_send_recv_and_without_it_401() {
    let mut lab = Lab::new();
    let (a, b) = (lab.ns("a"), lab.ns("b"));
    let (_, _, _, ab) = lab.veth(&a, &b);
    let args = ["--no-multicast", "--no-tun", "--api-http", API];
    let da = lab.start(&a, "a", &args);
    let db = lab.start(&b, "b", &args);
    let (a_id, b_id) = (lab.d(da).id(), lab.d(db).id());
    let token = |name: &str| {
        std::fs::read_to_string(lab.path(name).join("api-token"))
            .expect("the token file is made at start")
            .trim()
            .to_string()
    };
    let (ta, tb) = (token("a"), token("b"));
    assert_ne!(ta, tb, "each node draws its own token");

    // No token, a wrong one, another node's: 401 with the bearer challenge, counted.
    for t in [None, Some("0".repeat(64).as_str()), Some(tb.as_str())] {
        let (code, body) = curl(&lab, &a, t, &[&url("/v1/status")]);
        assert_eq!(code, 401, "{body}");
        assert_eq!(json(&body)["code"], "unauthorized");
    }
    let (code, body) = curl(&lab, &a, None, &["-i", &url("/metrics")]);
    assert_eq!(code, 401);
    assert!(body.contains("www-authenticate: Bearer"), "{body}");

    // Status, then a peer added over HTTP, the link seen in peers.
    let (code, body) = curl(&lab, &a, Some(&ta), &[&url("/v1/status")]);
    assert_eq!(code, 200, "{body}");
    assert_eq!(json(&body)["nodeId"], a_id.as_str());
    let add = format!(r#"{{"uri":"udp://{ab}:9651"}}"#);
    let (code, body) = post_json(&lab, &a, &ta, "/v1/peers", &add);
    assert_eq!(code, 204, "{body}");
    lab.wait(Duration::from_secs(5), "a links to b", || {
        let (_, body) = curl(&lab, &a, Some(&ta), &[&url("/v1/peers")]);
        let p = json(&body);
        p["links"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l["state"] == "up" && l["nodeId"] == b_id.as_str())
            && p["configured"][0] == format!("udp://{ab}:9651").as_str()
    });

    // b listens for events while a sends it a message; b takes it with recv.
    let events = Command::new("ip")
        .args(["netns", "exec", &b, "curl", "-sSN", "--max-time", "4", "-H"])
        .arg(format!("Authorization: Bearer {tb}"))
        .arg(url("/v1/events"))
        .stdout(Stdio::piped())
        .spawn()
        .expect("curl events");
    std::thread::sleep(Duration::from_millis(300));
    let msg = format!(r#"{{"to":"{b_id}","topic":"greet","payload":"aGVsbG8gb3ZlciBIVFRQ"}}"#);
    let (code, body) = post_json(&lab, &a, &ta, "/v1/messages", &msg);
    assert_eq!(code, 200, "{body}");
    let id = json(&body)["id"].as_str().expect("message id").to_string();
    assert_eq!(id.len(), 32);
    let (code, body) = curl(
        &lab,
        &b,
        Some(&tb),
        &[&url("/v1/messages/next?waitMs=5000&topic=greet")],
    );
    assert_eq!(code, 200, "{body}");
    let m = json(&body);
    assert_eq!(m["id"], id.as_str());
    assert_eq!(m["from"], a_id.as_str());
    assert_eq!(m["payload"], "aGVsbG8gb3ZlciBIVFRQ");
    let (code, _) = curl(&lab, &b, Some(&tb), &[&url("/v1/messages/next")]);
    assert_eq!(code, 204, "nothing more to take");
    let (code, body) = curl(&lab, &b, Some(&tb), &[&url(&format!("/v1/messages/{id}"))]);
    assert_eq!((code, json(&body)["read"].as_bool()), (200, Some(true)));
    let (code, _) = curl(
        &lab,
        &b,
        Some(&tb),
        &[&url(&format!("/v1/messages/{}", "ab".repeat(16)))],
    );
    assert_eq!(code, 404);
    let out = events.wait_with_output().expect("events");
    let stream = String::from_utf8_lossy(&out.stdout);
    assert!(
        stream.contains(r#""type":"messageReceived""#) && stream.contains(&id),
        "event stream: {stream}"
    );

    // Any socket request over /v1/call, answered whole; bad input is a 400, counted.
    let (code, body) = post_json(&lab, &a, &ta, "/v1/call", r#"{"type":"routes"}"#);
    assert_eq!(code, 200, "{body}");
    let r = json(&body);
    assert_eq!(r["type"], "routes");
    assert!(
        r["data"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x["nodeId"] == b_id.as_str()),
        "{r}"
    );
    for bad in [r#"{"type":"nonsense"}"#, "{", r#"{"type":"subscribe"}"#] {
        let (code, body) = post_json(&lab, &a, &ta, "/v1/call", bad);
        assert_eq!(code, 400, "{bad}: {body}");
        assert_eq!(json(&body)["code"], "badRequest");
    }
    let (code, _) = curl(&lab, &a, Some(&ta), &[&url("/v1/nowhere")]);
    assert_eq!(code, 404);

    // The OpenAPI document needs no token and passes a validator.
    let (code, doc) = curl(&lab, &a, None, &[&url("/openapi.json")]);
    assert_eq!(code, 200);
    let doc_path = lab.path("openapi.json");
    std::fs::write(&doc_path, &doc).unwrap();
    let validator = tool("HYPHA_OPENAPI_VALIDATOR", "openapi-spec-validator");
    let v = Command::new(&validator)
        .arg(&doc_path)
        .output()
        .expect("validator");
    assert!(
        v.status.success(),
        "openapi-spec-validator: {}{}",
        String::from_utf8_lossy(&v.stdout),
        String::from_utf8_lossy(&v.stderr)
    );

    // /metrics passes promtool and carries every counter that status shows.
    let (code, metrics) = curl(&lab, &a, Some(&ta), &[&url("/metrics")]);
    assert_eq!(code, 200);
    let mut promtool = Command::new(tool("HYPHA_PROMTOOL", "promtool"))
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool");
    promtool
        .stdin
        .take()
        .unwrap()
        .write_all(metrics.as_bytes())
        .unwrap();
    let p = promtool.wait_with_output().unwrap();
    assert!(
        p.status.success(),
        "promtool check metrics: {}{}",
        String::from_utf8_lossy(&p.stdout),
        String::from_utf8_lossy(&p.stderr)
    );
    let (_, body) = curl(&lab, &a, Some(&ta), &[&url("/v1/status")]);
    let counters = json(&body)["counters"].as_object().unwrap().clone();
    for group in [
        "counters.",
        "routing.",
        "bus.",
        "firewall.",
        "socks.",
        "dns.",
        "api.",
        "udp.",
        "tcp.",
    ] {
        assert!(
            counters.keys().any(|k| k.starts_with(group)),
            "no {group}* in status"
        );
    }
    for key in counters.keys() {
        let name = metric_name(key);
        assert!(
            metrics.lines().any(|l| l.starts_with(&format!("{name} "))),
            "status counter {key} is not in /metrics as {name}"
        );
    }
    assert!(
        counters["api.httpUnauthorized"].as_u64().unwrap() >= 4,
        "{counters:?}"
    );
    assert!(
        counters["api.httpBadRequests"].as_u64().unwrap() >= 3,
        "{counters:?}"
    );
    println!(
        "{} status counters, all in /metrics ({} lines); OpenAPI {} bytes, valid",
        counters.len(),
        metrics.lines().count(),
        doc.len()
    );
}

#[test]
fn the_http_api_is_off_by_default_and_loopback_only() {
    let mut lab = Lab::new();
    let a = lab.ns("a");
    let da = lab.start(&a, "a", &["--no-multicast", "--no-tun"]);
    lab.d(da).status();
    assert!(
        !lab.path("a").join("api-token").exists(),
        "no token without the API"
    );
    let out = lab.exec(&a, &["curl", "-sS", "--max-time", "2", &url("/v1/status")]);
    assert!(!out.status.success(), "nothing listens on {API}");
    let bad = Command::new(env!("CARGO_BIN_EXE_hyphad"))
        .args([
            "--no-tun",
            "--no-multicast",
            "--api-http",
            "0.0.0.0:8990",
            "--config",
        ])
        .arg(lab.path("none.toml"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(
        !bad.status.success() && err.contains("loopback only"),
        "{err}"
    );
}
