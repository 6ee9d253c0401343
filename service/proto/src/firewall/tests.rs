use super::*;
use crate::identity::Identity;

fn node(seed: u8) -> NodeId {
    Identity::from_seed([seed; 32]).node_id()
}

/// An IPv6 packet from `src` to `dst` with a transport header of `proto`.
fn packet(src: &NodeId, dst: &NodeId, proto: u8, transport: &[u8]) -> Vec<u8> {
    let mut p = vec![0u8; 40];
    p[0] = 0x60;
    p[4..6].copy_from_slice(&(transport.len() as u16).to_be_bytes());
    p[6] = proto;
    p[7] = 64;
    p[8..24].copy_from_slice(&src.address().0);
    p[24..40].copy_from_slice(&dst.address().0);
    p.extend_from_slice(transport);
    p
}

fn ports(sport: u16, dport: u16) -> Vec<u8> {
    let mut t = vec![0u8; 20];
    t[0..2].copy_from_slice(&sport.to_be_bytes());
    t[2..4].copy_from_slice(&dport.to_be_bytes());
    t
}

fn icmp(ty: u8, id: u16) -> Vec<u8> {
    let mut t = vec![ty, 0, 0, 0, 0, 0, 0, 1];
    t[4..6].copy_from_slice(&id.to_be_bytes());
    t
}

const T0: Timestamp = Timestamp::from_micros(1_000_000);

#[test]
fn strangers_are_kept_out_but_answers_and_ping_pass() {
    let (me, c) = (node(1), node(2));
    let mut fw = Firewall::new(Policy::default());
    // c opens TCP and UDP to port 22: dropped, counted.
    assert!(!fw.inbound(T0, &c, &packet(&c, &me, TCP, &ports(40000, 22))));
    assert!(!fw.inbound(T0, &c, &packet(&c, &me, UDP, &ports(40000, 22))));
    assert_eq!(fw.counters.dropped_tcp, 1);
    assert_eq!(fw.counters.dropped_udp, 1);
    // Ping and ICMPv6 errors pass; a stray echo reply and router solicitations do not.
    assert!(fw.inbound(T0, &c, &packet(&c, &me, ICMPV6, &icmp(ECHO_REQUEST, 7))));
    assert!(fw.inbound(T0, &c, &packet(&c, &me, ICMPV6, &icmp(2, 0))));
    assert!(!fw.inbound(T0, &c, &packet(&c, &me, ICMPV6, &icmp(ECHO_REPLY, 7))));
    assert!(!fw.inbound(T0, &c, &packet(&c, &me, ICMPV6, &icmp(133, 0))));
    assert_eq!(fw.counters.dropped_other, 2);
    // We connect to c: its answers pass, on that flow only.
    fw.outbound(T0, &packet(&me, &c, TCP, &ports(50000, 80)));
    fw.outbound(T0, &packet(&me, &c, ICMPV6, &icmp(ECHO_REQUEST, 9)));
    assert!(fw.inbound(T0, &c, &packet(&c, &me, TCP, &ports(80, 50000))));
    assert!(fw.inbound(T0, &c, &packet(&c, &me, ICMPV6, &icmp(ECHO_REPLY, 9))));
    assert!(!fw.inbound(T0, &c, &packet(&c, &me, TCP, &ports(81, 50000))));
    assert!(!fw.inbound(T0, &c, &packet(&c, &me, UDP, &ports(80, 50000))));
    // Another node cannot ride on c's flow.
    let d = node(3);
    assert!(!fw.inbound(T0, &d, &packet(&d, &me, TCP, &ports(80, 50000))));
    assert_eq!(fw.counters.dropped(), 7);
}

#[test]
fn contacts_rules_and_exposed_ports_open_the_door() {
    let (me, c, d) = (node(1), node(2), node(3));
    let mut fw = Firewall::new(Policy::default());
    let ssh_from_c = packet(&c, &me, TCP, &ports(40000, 22));
    let web_from_d = packet(&d, &me, TCP, &ports(40000, 8080));
    let dns_from_d = packet(&d, &me, UDP, &ports(40000, 53));
    let mut policy = Policy::default();
    policy.rules.push(Rule {
        node: Some(c),
        port: Some(22),
        proto: Some(Proto::Tcp),
    });
    fw.set_policy(policy.clone());
    assert!(fw.inbound(T0, &c, &ssh_from_c));
    assert!(!fw.inbound(T0, &d, &packet(&d, &me, TCP, &ports(40000, 22))));
    assert!(!fw.inbound(T0, &c, &packet(&c, &me, UDP, &ports(40000, 22))));
    // An exposed port is open to every node, for TCP.
    policy.exposed.insert(8080);
    fw.set_policy(policy.clone());
    assert!(fw.inbound(T0, &d, &web_from_d));
    assert!(!fw.inbound(T0, &d, &dns_from_d));
    // A contact reaches every port, and packets without ports.
    policy.contacts.insert(d);
    fw.set_policy(policy.clone());
    assert!(fw.inbound(T0, &d, &dns_from_d));
    assert!(fw.inbound(T0, &d, &packet(&d, &me, 132, &[0; 8])));
    assert!(!fw.inbound(T0, &c, &packet(&c, &me, 132, &[0; 8])));
    // Nobody: only answers and ping, whatever the rules say.
    policy.incoming = Incoming::Nobody;
    fw.set_policy(policy.clone());
    assert!(!fw.inbound(T0, &c, &ssh_from_c));
    assert!(!fw.inbound(T0, &d, &web_from_d));
    assert!(fw.inbound(T0, &c, &packet(&c, &me, ICMPV6, &icmp(ECHO_REQUEST, 1))));
    // Everyone: no filtering at all.
    policy.incoming = Incoming::Everyone;
    fw.set_policy(policy);
    assert!(fw.inbound(T0, &c, &packet(&c, &me, UDP, &ports(1, 9))));
}

#[test]
fn flows_expire_and_the_table_stays_bounded() {
    let (me, c) = (node(1), node(2));
    let mut fw = Firewall::new(Policy::default());
    fw.outbound(T0, &packet(&me, &c, UDP, &ports(5000, 53)));
    let answer = packet(&c, &me, UDP, &ports(53, 5000));
    assert!(fw.inbound(T0 + Duration::from_secs(100), &c, &answer));
    // Each answer keeps the flow 180 s longer: alive at 279 s, gone at 460 s.
    assert!(fw.inbound(T0 + Duration::from_secs(279), &c, &answer));
    assert!(!fw.inbound(T0 + Duration::from_secs(460), &c, &answer));
    fw.sweep(T0 + Duration::from_secs(460));
    assert_eq!(fw.flows(), 0);
    // Far more flows than the table holds: it stays at the cap, the newest flows work.
    for i in 0..(MAX_FLOWS as u32 + 500) {
        let t = T0 + Duration::from_millis(u64::from(i));
        fw.outbound(t, &packet(&me, &c, UDP, &ports(i as u16 + 1, 53)));
    }
    assert_eq!(fw.flows(), MAX_FLOWS);
    assert_eq!(fw.counters.flows_evicted, 500);
}

#[test]
fn extension_headers_and_fragments() {
    let (me, c) = (node(1), node(2));
    let mut policy = Policy::default();
    policy.exposed.insert(22);
    let mut fw = Firewall::new(policy);
    // Destination options, then TCP to the exposed port: found and let through.
    let mut t = vec![TCP, 0, 0, 0, 0, 0, 0, 0];
    t.extend_from_slice(&ports(40000, 22));
    assert!(fw.inbound(T0, &c, &packet(&c, &me, 60, &t)));
    // The same to a closed port: dropped as TCP.
    let mut t = vec![TCP, 0, 0, 0, 0, 0, 0, 0];
    t.extend_from_slice(&ports(40000, 23));
    assert!(!fw.inbound(T0, &c, &packet(&c, &me, 60, &t)));
    assert_eq!(fw.counters.dropped_tcp, 1);
    // A later fragment has no ports: only a contact's passes. A truncated header is dropped.
    let frag = [UDP, 0, 0x05, 0x00, 0, 0, 0, 1];
    assert!(!fw.inbound(T0, &c, &packet(&c, &me, 44, &frag)));
    assert!(!fw.inbound(T0, &c, &packet(&c, &me, 60, &[TCP, 5])));
    assert!(!fw.inbound(T0, &c, &packet(&c, &me, TCP, &[0, 1])));
    assert_eq!(fw.counters.dropped_other, 3);
    assert_eq!(fw.counters.dropped_tcp, 1);
}
