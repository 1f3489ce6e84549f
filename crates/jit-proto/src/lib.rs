//! jit's gRPC API (`proto/jit/v1`), generated: messages, the `TicketService` client and
//! server, and the descriptor set for reflection.

#![allow(
    unreachable_pub,
    clippy::doc_lazy_continuation,
    clippy::large_enum_variant
)]

pub mod v1 {
    tonic::include_proto!("jit.v1");
}

/// The encoded `FileDescriptorSet` of `proto/jit/v1` (for gRPC reflection).
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/jit_descriptor.bin"));
