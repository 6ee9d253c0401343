//! The `hypha` binary, run as a user would.

use std::process::Command;

fn hypha() -> Command {
    Command::new(env!("CARGO_BIN_EXE_hypha"))
}

fn json(out: &std::process::Output) -> serde_json::Value {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON")
}

#[test]
fn inspect_creates_key_once_and_is_stable() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("sub/key");
    let a = json(
        &hypha()
            .args(["inspect", "--json", "--key-file"])
            .arg(&key)
            .output()
            .unwrap(),
    );
    let b = json(
        &hypha()
            .args(["inspect", "--json", "--key-file"])
            .arg(&key)
            .output()
            .unwrap(),
    );
    assert_eq!(a, b);
    let pk = a["publicKey"].as_str().unwrap();
    assert_eq!(pk.len(), 64);
    assert!(
        a["address"].as_str().unwrap().starts_with('6')
            || a["address"].as_str().unwrap().starts_with('7')
    );
    assert!(a["subnet"].as_str().unwrap().ends_with("::/64"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    // Inspecting the public key alone gives the same answer.
    let c = json(&hypha().args(["inspect", "--json", pk]).output().unwrap());
    assert_eq!(a, c);
}

#[test]
fn inspect_known_vector() {
    // Seed 0 (see docs/PROTOCOL.md).
    let out = json(
        &hypha()
            .args([
                "inspect",
                "--json",
                "3b6a27bcceb6a42d62a3a8d02a6f0d73653215771de243a63ac048a18b59da29",
            ])
            .output()
            .unwrap(),
    );
    assert_eq!(out["address"], "79e:a4ee:eb9:f6c3:a600:acbf:7d6c:701");
    assert_eq!(out["subnet"], "79e:a4ee:eb9:f6c3::/64");
}

#[test]
fn bad_input_gets_a_clear_error() {
    let out = hypha().args(["inspect", "nothex"]).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("64 hex"));
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("key");
    std::fs::write(&key, "garbage").unwrap();
    let out = hypha()
        .args(["inspect", "--key-file"])
        .arg(&key)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a 64-hex-digit key"));
    let out = hypha().args(["sim", "--nodes", "1"]).output().unwrap();
    assert!(!out.status.success());
}

#[test]
fn sim_json_is_reproducible() {
    let run = || {
        hypha()
            .args([
                "sim",
                "--nodes",
                "40",
                "--seed",
                "9",
                "--json",
                "--deterministic",
                "--probes",
                "50",
            ])
            .output()
            .unwrap()
    };
    let a = run();
    let b = run();
    let v = json(&a);
    assert_eq!(a.stdout, b.stdout, "byte-identical");
    assert_eq!(v["converged"], true);
    assert_eq!(v["loops_seen"], 0);
    assert!(v.get("host").is_none());
    let with_host = json(
        &hypha()
            .args([
                "sim", "--nodes", "40", "--seed", "9", "--json", "--probes", "50",
            ])
            .output()
            .unwrap(),
    );
    assert!(with_host["host"]["wall_s"].as_f64().is_some());
}

#[test]
fn api_commands_say_plainly_when_the_service_is_down() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("none.sock");
    for cmd in [
        &["status"][..],
        &["peers"],
        &["routes"],
        &["metrics"],
        &["peers", "add", "udp://[::1]:9651"],
    ] {
        let out = hypha()
            .args(cmd)
            .arg("--socket")
            .arg(&sock)
            .output()
            .unwrap();
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("hyphad is not running"), "{cmd:?}: {err}");
    }
}
