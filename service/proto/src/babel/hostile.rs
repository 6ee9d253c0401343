//! Testing only: what a hostile neighbour sends to take over another node's /64. Used by the
//! simulator (`hypha sim --hostile`) and by a hidden daemon flag, so tests can check that the
//! attack fails against real nodes; a node never does this unless told to.

use rand_core::Rng;

use super::{Babel, SEQNO_REQUEST_HOPS};
use crate::identity::NodeId;
use crate::wire::babel::update::origin_signed_bytes;
use crate::wire::babel::{Prefix, SeqnoRequestRepr, Tlv, UpdateRepr};

/// Seqno requests the attacker sends each neighbour per call.
const REQUESTS_PER_CALL: u16 = 40;

impl Babel {
    /// Sends every neighbour forged announcements of `victim`'s /64 (a higher seqno at metric
    /// 0, signed with our own key or with the victim's signature of an older seqno, and the
    /// victim's real current signature at metric 0) and a burst of seqno requests for ever
    /// newer seqnos of the victim. Does nothing until we know the victim's router id.
    pub fn debug_attack(&mut self, victim: &NodeId) {
        let subnet = victim.subnet();
        let Some(sel) = self.table.get(&subnet).and_then(|p| p.selected) else {
            return;
        };
        let rid = self.rids.id(sel.rid);
        let Some(real) = self.held_sig(sel.rid, sel.seqno) else {
            return;
        };
        let prefix = Prefix::from_subnet(subnet);
        let higher = sel
            .seqno
            .wrapping_add(1 + (self.rng.next_u32() % 100) as u16);
        let update = |seqno: u16, signature: [u8; 64]| {
            Tlv::Update(UpdateRepr {
                flags: 0,
                interval_cs: 800,
                seqno,
                metric: 0,
                router_id: rid,
                prefix,
                signature: Some(signature),
            })
        };
        let own_sig = self.signer.sign(&origin_signed_bytes(&rid, higher));
        let mut tlvs = vec![
            update(higher, own_sig),
            update(higher, real),
            update(sel.seqno, real),
        ];
        let base = self.rng.next_u32() as u16;
        for i in 0..REQUESTS_PER_CALL {
            tlvs.push(Tlv::SeqnoRequest(SeqnoRequestRepr {
                seqno: sel
                    .seqno
                    .wrapping_add(1)
                    .wrapping_add(base.wrapping_add(i) % 0x4000),
                hop_count: SEQNO_REQUEST_HOPS,
                router_id: rid,
                prefix,
            }));
        }
        let ns: Vec<_> = self.neighbours.keys().copied().collect();
        for n in ns {
            // Each forgery in a frame of its own: a receiver drops the rest of a frame after
            // one forgery, and the attacker wants every one of them read.
            for t in &tlvs[..3] {
                self.send_tlvs(n, core::slice::from_ref(t));
            }
            self.send_tlvs(n, &tlvs[3..]);
        }
    }
}
