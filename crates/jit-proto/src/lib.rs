//! jit's gRPC API (`proto/jit/v1`), generated: messages, the `TicketService` client and
//! server, and the descriptor set for reflection.

#![allow(
    unreachable_pub,
    clippy::doc_lazy_continuation,
    clippy::large_enum_variant
)]

pub mod codec;

pub mod v1 {
    tonic::include_proto!("jit.v1");
}

/// The encoded `FileDescriptorSet` of `proto/jit/v1` (for gRPC reflection).
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/jit_descriptor.bin"));

/// The wire status of each [`Phase`](jit_domain::Phase), derived from its name
/// (`PendingApproval` ↔ `TICKET_STATUS_PENDING_APPROVAL`): the phase list exists once, in the
/// domain, and a test checks that the proto enum holds exactly those phases.
pub mod status {
    use jit_domain::Phase;

    use crate::v1::TicketStatus;

    /// `PendingApproval` → `TICKET_STATUS_PENDING_APPROVAL`.
    fn wire_name(p: Phase) -> String {
        let mut out = String::from("TICKET_STATUS_");
        for (i, c) in p.as_str().chars().enumerate() {
            if c.is_ascii_uppercase() && i > 0 {
                out.push('_');
            }
            out.push(c.to_ascii_uppercase());
        }
        out
    }

    /// The wire status of `p`.
    pub fn of(p: Phase) -> TicketStatus {
        TicketStatus::from_str_name(&wire_name(p)).unwrap_or(TicketStatus::Unspecified)
    }

    /// The phase a wire status means (`None` for unspecified).
    pub fn phase(s: TicketStatus) -> Option<Phase> {
        Phase::ALL.iter().copied().find(|p| of(*p) == s)
    }

    /// The CLI's spelling of a phase: `pending-approval`.
    pub fn kebab(p: Phase) -> String {
        wire_name(p)
            .trim_start_matches("TICKET_STATUS_")
            .to_ascii_lowercase()
            .replace('_', "-")
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn the_wire_statuses_are_exactly_the_domain_phases() {
            let mut seen = Vec::new();
            for p in Phase::ALL {
                let s = of(*p);
                assert_ne!(s, TicketStatus::Unspecified, "{p} has no wire status");
                assert_eq!(phase(s), Some(*p));
                assert!(!seen.contains(&s), "{p} shares a wire status");
                seen.push(s);
            }
            let wire: Vec<TicketStatus> = (0..64)
                .filter_map(|n| TicketStatus::try_from(n).ok())
                .filter(|s| *s != TicketStatus::Unspecified)
                .collect();
            assert_eq!(wire.len(), Phase::ALL.len(), "the proto has other statuses");
            assert_eq!(phase(TicketStatus::Unspecified), None);
            assert_eq!(kebab(Phase::ApprovalExpired), "approval-expired");
        }
    }
}
