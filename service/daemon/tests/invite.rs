//! Joining with an invite link between real `hyphad` processes (needs root).

mod lab;

use std::time::Duration;

use lab::{Lab, require_root};

/// Two nodes with no configured peers and no discovery link through `hypha invite` on one
/// and `hypha join` on the other. An endpoint in the link that leads nowhere (an unused
/// address on the test's own veth) is dropped again once the real one linked; the inviter
/// becomes a contact; expired and garbled links are refused with a clear error.
#[test]
fn two_strangers_link_with_an_invite() {
    require_root();
    let mut lab = Lab::new();
    let (a, b) = (lab.ns("a"), lab.ns("b"));
    let (_, _, _, b_under) = lab.veth(&a, &b);
    let da = lab.start(&a, "a", &["--no-multicast", "--incoming", "contacts"]);
    let db = lab.start(&b, "b", &["--no-multicast"]);
    lab.wait(Duration::from_secs(5), "both APIs up", || {
        lab.cli("a", &["status"]).is_ok() && lab.cli("b", &["status"]).is_ok()
    });
    assert!(lab.d(da).linked().is_empty() && lab.d(db).linked().is_empty());

    let link = lab.cli("b", &["invite", "--expires", "1h"]).unwrap();
    let link = link.trim();
    assert!(
        link.starts_with("hypha://join/") && link.contains(&lab.d(db).id()),
        "{link}"
    );
    assert!(link.contains(&format!("{b_under}:9651")), "{link}");
    // A dead endpoint too: an address on the veth that nobody holds.
    let dead = format!("{}.99:9651", b_under.rsplit_once('.').unwrap().0);
    let link = link.replacen("?ep=", &format!("?ep={dead},"), 1);

    // Refused: garbled, expired, one's own.
    let err = lab
        .cli("a", &["join", "hypha://join/zz?ep=1.2.3.4:5"])
        .unwrap_err();
    assert!(err.contains("invite link: node id"), "{err}");
    let expired = format!("{link}&exp=1000");
    let err = lab.cli("a", &["join", &expired]).unwrap_err();
    assert!(err.contains("expired"), "{err}");
    let own = lab.cli("a", &["invite"]).unwrap();
    let err = lab.cli("a", &["join", own.trim()]).unwrap_err();
    assert!(err.contains("own invite"), "{err}");

    let said = lab.cli("a", &["join", &link, "--contact"]).unwrap();
    assert!(said.contains("joining") && said.contains(&dead), "{said}");
    let took = lab.wait(Duration::from_secs(10), "a linked to b", || {
        lab.d(da).linked().contains(&lab.d(db).id())
    });
    println!("invite → link up: {:.2} s", took.as_secs_f64());
    lab.wait(Duration::from_secs(10), "the dead endpoint dropped", || {
        let peers = lab.cli("a", &["peers", "--json"]).unwrap();
        !peers.contains(&dead) && peers.contains(&format!("udp://{b_under}:9651"))
    });
    let fw: serde_json::Value =
        serde_json::from_str(&lab.cli("a", &["firewall", "--json"]).unwrap()).unwrap();
    assert_eq!(fw["contacts"][0]["nodeId"], lab.d(db).id().as_str());
    // The link survives a restart of the joiner (the endpoint is a configured peer now).
    lab.restart(da, "a", &["--no-multicast", "--incoming", "contacts"]);
    lab.wait(Duration::from_secs(10), "a linked to b again", || {
        lab.d(da).linked().contains(&lab.d(db).id())
    });
}
