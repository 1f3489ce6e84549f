//! The codec of jit's services: prost's, but a message that does not decode is the sender's
//! fault, INVALID_ARGUMENT ("wrong wire type", "invalid UTF-8"), not INTERNAL as tonic's
//! default codec says. Framing errors below the message (a compressed flag without an
//! encoding, a truncated frame) stay INTERNAL as the gRPC specification requires.

use std::marker::PhantomData;

use prost::Message;
use tonic::Status;
use tonic::codec::{Codec, DecodeBuf, Decoder};
use tonic_prost::{ProstCodec, ProstEncoder};

/// Generated services use this codec (`codec_path` in `build.rs`).
#[derive(Debug, Clone, Default)]
pub struct StrictCodec<T, U>(PhantomData<(T, U)>);

impl<T, U> Codec for StrictCodec<T, U>
where
    T: Message + Send + 'static,
    U: Message + Default + Send + 'static,
{
    type Encode = T;
    type Decode = U;
    type Encoder = ProstEncoder<T>;
    type Decoder = StrictDecoder<U>;

    fn encoder(&mut self) -> Self::Encoder {
        ProstCodec::<T, U>::default().encoder()
    }

    fn decoder(&mut self) -> Self::Decoder {
        StrictDecoder(PhantomData)
    }
}

/// Decodes `U`; a message that is not one is INVALID_ARGUMENT naming what is wrong.
#[derive(Debug, Clone, Default)]
pub struct StrictDecoder<U>(PhantomData<U>);

impl<U: Message + Default> Decoder for StrictDecoder<U> {
    type Item = U;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<U>, Status> {
        decode_message(src).map(Some)
    }
}

/// `U` from `buf`, or INVALID_ARGUMENT naming the message and what is wrong.
pub fn decode_message<U: Message + Default>(buf: impl bytes::Buf) -> Result<U, Status> {
    U::decode(buf).map_err(|e| {
        let name = std::any::type_name::<U>()
            .rsplit("::")
            .next()
            .unwrap_or("message");
        Status::invalid_argument(format!("the body is not a valid {name}: {e}"))
    })
}

#[cfg(test)]
mod tests {
    use tonic::Code;

    use super::*;
    use crate::v1::CreateTicketRequest;

    fn decode(bytes: &[u8]) -> Result<CreateTicketRequest, Status> {
        decode_message(bytes)
    }

    #[test]
    fn a_body_that_is_not_the_message_is_invalid_argument() {
        // Field 1 (request_id, a string) sent as a varint; a string that is not UTF-8; a
        // length running past the end.
        for body in [&[0x08, 0x01][..], &[0x0a, 0x01, 0xff], &[0x0a, 0x05, b'a']] {
            let e = decode(body).unwrap_err();
            assert_eq!(e.code(), Code::InvalidArgument, "{body:?}: {e:?}");
            assert!(
                e.message().contains("CreateTicketRequest"),
                "{}",
                e.message()
            );
        }
        let ok = decode(&[0x0a, 0x01, b'a']).unwrap();
        assert_eq!(ok.request_id, "a");
    }
}
