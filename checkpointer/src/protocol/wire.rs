//! Messages of the replication link and the byte-level framer that cuts
//! them out of a stream.
//!
//! Each message is a 4-byte little-endian length, then that many bytes:
//! postcard for control messages, a checkpoint frame ([`crate::frame`]) on
//! the data stream. The [`Framer`] keeps what it was given until a whole
//! message is there, so a reader may be interrupted between any two reads
//! (a cancelled `select!` branch) without losing or splitting a message:
//! the bytes are in the framer, not in a half-finished read.

use serde::{Deserialize, Serialize};

use crate::replication::LinkError;

/// Largest message accepted (a full frame of a large heap fits).
pub const MAX_MESSAGE: u32 = 1 << 31;

/// Control messages from the primary (on the control stream).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ToStandby {
    /// The first message of a link. `term` 0: a new program that holds no
    /// term yet (the standby assigns it one).
    Hello { runtime_id: u64, term: u64 },
    /// The primary is alive; `epoch` is the newest epoch it has captured.
    Heartbeat { term: u64, epoch: u64 },
}

/// Control messages from the standby.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ToPrimary {
    /// What the standby holds: the runtime and epoch of its image (0:
    /// none), and the term the primary carries from now on.
    Welcome {
        runtime_id: u64,
        term: u64,
        epoch: u64,
    },
    /// Every epoch up to `epoch` is held (cumulative).
    Ack { term: u64, epoch: u64 },
    /// The standby serves, or follows, a higher term: the primary must
    /// stop releasing output and stop.
    Fenced { term: u64 },
    /// A frame was refused (it did not decode or follow): the primary
    /// sends a full image next.
    Refused { epoch: u64, reason: String },
    /// The answer to a heartbeat. While a frame larger than the link
    /// timeout's worth of bandwidth is on its way, the standby has nothing
    /// else to say, and a primary that heard nothing would give the link up
    /// and start that frame over, for ever.
    Alive { term: u64 },
}

/// One message with its length prefix.
pub fn encode<T: Serialize>(msg: &T) -> Vec<u8> {
    let body = postcard::to_stdvec(msg).expect("messages always serialize");
    frame_bytes(&body)
}

/// `body` with its length prefix.
pub fn frame_bytes(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(4 + body.len());
    out.extend_from_slice(&(body.len() as u32).to_le_bytes());
    out.extend_from_slice(body);
    out
}

/// Cuts length-prefixed messages out of a byte stream given in any
/// pieces.
#[derive(Debug, Default)]
pub struct Framer {
    buf: Vec<u8>,
    /// Bytes of `buf` already handed out (compacted lazily).
    start: usize,
}

impl Framer {
    /// Appends bytes as they arrived.
    pub fn push(&mut self, bytes: &[u8]) {
        if self.start > 0 && self.start == self.buf.len() {
            self.buf.clear();
            self.start = 0;
        }
        self.buf.extend_from_slice(bytes);
    }

    /// Bytes held that are not a whole message yet.
    pub fn buffered(&self) -> usize {
        self.buf.len() - self.start
    }

    /// The next whole message's bytes, if one is there.
    pub fn next_bytes(&mut self) -> Result<Option<Vec<u8>>, LinkError> {
        let held = &self.buf[self.start..];
        if held.len() < 4 {
            return Ok(None);
        }
        let len = u32::from_le_bytes(held[..4].try_into().expect("four bytes"));
        if len > MAX_MESSAGE {
            return Err(LinkError::TooLarge(len));
        }
        let end = 4 + len as usize;
        if held.len() < end {
            return Ok(None);
        }
        let msg = held[4..end].to_vec();
        self.start += end;
        if self.start > (1 << 20) && self.start * 2 > self.buf.len() {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        Ok(Some(msg))
    }

    /// The next whole message, decoded.
    pub fn next_message<T: for<'de> Deserialize<'de>>(&mut self) -> Result<Option<T>, LinkError> {
        match self.next_bytes()? {
            None => Ok(None),
            Some(bytes) => postcard::from_bytes(&bytes)
                .map(Some)
                .map_err(|e| LinkError::Decode(e.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_survive_any_cut() {
        let msgs = vec![
            ToStandby::Hello {
                runtime_id: 7,
                term: 0,
            },
            ToStandby::Heartbeat { term: 3, epoch: 9 },
            ToStandby::Heartbeat {
                term: u64::MAX,
                epoch: 1 << 40,
            },
        ];
        let bytes: Vec<u8> = msgs.iter().flat_map(encode).collect();
        for cut in 1..bytes.len() {
            let mut framer = Framer::default();
            let mut got = Vec::new();
            for piece in bytes.chunks(cut) {
                framer.push(piece);
                while let Some(m) = framer.next_message::<ToStandby>().unwrap() {
                    got.push(m);
                }
            }
            assert_eq!(got, msgs, "pieces of {cut} bytes");
            assert_eq!(framer.buffered(), 0);
        }
    }

    #[test]
    fn an_oversized_length_is_refused() {
        let mut framer = Framer::default();
        framer.push(&u32::MAX.to_le_bytes());
        assert!(matches!(framer.next_bytes(), Err(LinkError::TooLarge(_))));
    }
}
