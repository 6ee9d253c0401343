//! The inbound firewall's API side: showing it, changing it, persisting the changes.

use hypha_ipc::api::{self, ApiError, ErrorCode, FirewallChange, Response};
use hypha_proto::firewall::{Incoming, Proto};
use hypha_proto::identity::NodeId;

use super::Service;
use super::handlers::internal;
use crate::settings::RuleSetting;

fn bad(m: String) -> ApiError {
    ApiError::new(ErrorCode::BadRequest, m)
}

impl Service {
    /// Hands the policy the settings describe to the node (after a change to the firewall or
    /// to the exposed ports).
    pub(super) fn apply_firewall(&mut self) {
        match self.settings.firewall_policy(Some(&self.incoming_default)) {
            Ok(policy) => self.node.set_firewall(policy),
            // Changes are checked before they are stored, so this cannot happen; keep the
            // policy in force rather than open anything.
            Err(e) => tracing::error!("firewall settings: {e}"),
        }
    }

    /// A node given by name, node id or overlay address.
    fn firewall_node(&self, input: &str) -> Result<NodeId, ApiError> {
        let r = self.resolve(input)?;
        NodeId::from_hex(&r.node_id).map_err(|e| bad(format!("{input:?}: {e}")))
    }

    fn rule_setting(&self, rule: &api::FirewallRule) -> Result<RuleSetting, ApiError> {
        let proto = match rule.proto.as_deref().map(str::to_ascii_lowercase) {
            None => None,
            Some(p) => match Proto::parse(&p) {
                Some(p) => Some(p.as_str().to_string()),
                None => return Err(bad(format!("protocol {p:?}: must be tcp or udp"))),
            },
        };
        if rule.port == Some(0) {
            return Err(bad("port 0 is not a port".into()));
        }
        let node = match rule.node.as_deref() {
            None | Some("any") | Some("*") => None,
            Some(n) => Some(self.firewall_node(n)?.to_hex()),
        };
        if node.is_none() && rule.port.is_none() {
            return Err(bad(
                "opening every port to every node is `hypha firewall incoming everyone`".into(),
            ));
        }
        Ok(RuleSetting {
            node,
            port: rule.port,
            proto,
        })
    }

    /// Handles [`api::Request::Firewall`].
    pub(super) fn handle_firewall(
        &mut self,
        change: Option<FirewallChange>,
    ) -> Result<Response, ApiError> {
        if let Some(change) = change {
            let mut fw = self.settings.firewall.clone();
            match change {
                FirewallChange::Incoming { mode } => {
                    let mode = mode.trim().to_ascii_lowercase();
                    if Incoming::parse(&mode).is_none() {
                        return Err(bad(format!(
                            "incoming {mode:?}: must be contacts, everyone or nobody"
                        )));
                    }
                    fw.incoming = Some(mode);
                }
                FirewallChange::Allow(rule) => {
                    let rule = self.rule_setting(&rule)?;
                    if !fw.rules.contains(&rule) {
                        fw.rules.push(rule);
                    }
                }
                FirewallChange::Remove(rule) => {
                    let rule = self.rule_setting(&rule)?;
                    let before = fw.rules.len();
                    fw.rules.retain(|r| *r != rule);
                    if fw.rules.len() == before {
                        return Err(ApiError::new(ErrorCode::NotFound, "no such rule"));
                    }
                }
                FirewallChange::AddContact { node } => {
                    let id = self.firewall_node(&node)?.to_hex();
                    if !fw.contacts.contains(&id) {
                        fw.contacts.push(id);
                    }
                }
                FirewallChange::RemoveContact { node } => {
                    let id = self.firewall_node(&node)?.to_hex();
                    let before = fw.contacts.len();
                    fw.contacts.retain(|c| *c != id);
                    if fw.contacts.len() == before {
                        return Err(ApiError::new(
                            ErrorCode::NotFound,
                            format!("{node} is not a contact"),
                        ));
                    }
                }
            }
            self.settings.firewall = fw;
            self.settings.save().map_err(internal)?;
            self.apply_firewall();
            tracing::info!("firewall changed: {:?}", self.settings.firewall);
        }
        Ok(Response::Firewall(self.firewall_state()))
    }

    fn firewall_state(&self) -> api::Firewall {
        let names = hypha_proto::names::settle(self.node.facts());
        let name_of = |id: &NodeId| {
            names
                .values()
                .find(|e| e.node == *id)
                .map(|e| e.name.clone())
        };
        let fw = self.node.firewall();
        let policy = fw.policy();
        api::Firewall {
            incoming: policy.incoming.as_str().into(),
            contacts: policy
                .contacts
                .iter()
                .map(|c| api::Contact {
                    node_id: c.to_hex(),
                    name: name_of(c),
                })
                .collect(),
            rules: policy
                .rules
                .iter()
                .map(|r| api::FirewallRule {
                    node: r.node.map(|n| n.to_hex()),
                    name: r.node.as_ref().and_then(name_of),
                    port: r.port,
                    proto: r.proto.map(|p| p.as_str().to_string()),
                })
                .collect(),
            exposed: policy.exposed.iter().copied().collect(),
            flows: fw.flows() as u64,
            dropped_tcp: fw.counters.dropped_tcp,
            dropped_udp: fw.counters.dropped_udp,
            dropped_other: fw.counters.dropped_other,
        }
    }
}
