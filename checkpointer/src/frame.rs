//! The checkpoint frame: a fixed little-endian header, then the body (the
//! image's records, postcard-encoded, optionally lz4-compressed).
//!
//! ```text
//! offset size field
//!      0    4 magic "USCP"
//!      4    2 format version (1)
//!      6    1 kind: 0 full, 1 delta
//!      7    1 compression: 0 none, 1 lz4
//!      8    8 runtime id
//!     16    8 term
//!     24    8 epoch
//!     32    8 parent epoch (the epoch a delta applies to; 0 for a full)
//!     40    8 body length in bytes (as stored)
//!     48    4 crc32c of the body (as stored)
//!     52    4 crc32c of bytes 0..52
//!     56      body
//! ```
//!
//! Decoding checks, in order, length, magic, version, header checksum,
//! kind and compression, body length, body checksum, and only then
//! decompresses and decodes: a frame is refused whole or accepted whole.

use understudy_runtime::image::Image;

pub const MAGIC: [u8; 4] = *b"USCP";
pub const VERSION: u16 = 1;
pub const HEADER_LEN: usize = 56;
/// Bodies larger than this are refused before any allocation.
pub const MAX_BODY: u64 = 16 << 30;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Full,
    Delta,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Lz4,
}

/// What a frame says about itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub kind: Kind,
    pub compression: Compression,
    pub runtime_id: u64,
    pub term: u64,
    pub epoch: u64,
    pub parent_epoch: u64,
    pub body_len: u64,
    pub body_crc: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error("frame truncated: {needed} bytes needed, {got} present")]
    Truncated { needed: u64, got: u64 },
    #[error("not a checkpoint frame (bad magic)")]
    BadMagic,
    #[error("unsupported checkpoint format version {found} (this build reads version {VERSION})")]
    UnsupportedVersion { found: u16 },
    #[error("frame header checksum mismatch")]
    HeaderChecksumMismatch,
    #[error("unknown frame kind {0}")]
    BadKind(u8),
    #[error("unknown compression {0}")]
    BadCompression(u8),
    #[error("frame body of {0} bytes is larger than allowed")]
    TooLarge(u64),
    #[error("frame body checksum mismatch (expected {expected:#010x}, found {found:#010x})")]
    ChecksumMismatch { expected: u32, found: u32 },
    #[error("frame body does not decompress: {0}")]
    Decompress(String),
    #[error("frame body does not decode: {0}")]
    Decode(String),
    #[error("the header says {header:?} but the body holds a {body:?} image")]
    KindMismatch { header: Kind, body: Kind },
    #[error("a {} frame cannot have epoch {epoch} after epoch {parent}", if *parent == 0 { "full" } else { "delta" })]
    BadEpochs { epoch: u64, parent: u64 },
    #[error("delta for epoch {found} does not follow epoch {expected}")]
    WrongParent { expected: u64, found: u64 },
    #[error("{0} bytes after the frame")]
    TrailingBytes(u64),
}

fn kind_of(image: &Image) -> Kind {
    if image.full {
        Kind::Full
    } else {
        Kind::Delta
    }
}

/// Whose stream a frame belongs to. Its epoch and parent come from the
/// image itself (stamped by the runtime).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Position {
    pub runtime_id: u64,
    pub term: u64,
}

/// Encodes `image` as one frame.
pub fn encode(image: &Image, at: Position, compression: Compression) -> Vec<u8> {
    let raw = postcard::to_stdvec(image).expect("images always serialize");
    let body = match compression {
        Compression::None => raw,
        Compression::Lz4 => lz4_flex::compress_prepend_size(&raw),
    };
    let mut out = Vec::with_capacity(HEADER_LEN + body.len());
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&VERSION.to_le_bytes());
    out.push(match kind_of(image) {
        Kind::Full => 0,
        Kind::Delta => 1,
    });
    out.push(match compression {
        Compression::None => 0,
        Compression::Lz4 => 1,
    });
    out.extend_from_slice(&at.runtime_id.to_le_bytes());
    out.extend_from_slice(&at.term.to_le_bytes());
    out.extend_from_slice(&image.epoch.to_le_bytes());
    let parent = if image.full { 0 } else { image.parent };
    out.extend_from_slice(&parent.to_le_bytes());
    out.extend_from_slice(&(body.len() as u64).to_le_bytes());
    out.extend_from_slice(&crc32c::crc32c(&body).to_le_bytes());
    let header_crc = crc32c::crc32c(&out);
    out.extend_from_slice(&header_crc.to_le_bytes());
    out.extend_from_slice(&body);
    out
}

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().expect("four bytes"))
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().expect("eight bytes"))
}

/// Reads and checks a frame's header; `bytes` may hold more than the
/// header. Also answers how long the whole frame is.
pub fn decode_header(bytes: &[u8]) -> Result<Header, FrameError> {
    if bytes.len() < HEADER_LEN {
        // A prefix too short to be a header: say what is wrong as early
        // as it can be told.
        if bytes.len() >= 4 && bytes[..4] != MAGIC {
            return Err(FrameError::BadMagic);
        }
        return Err(FrameError::Truncated {
            needed: HEADER_LEN as u64,
            got: bytes.len() as u64,
        });
    }
    if bytes[..4] != MAGIC {
        return Err(FrameError::BadMagic);
    }
    let version = u16_at(bytes, 4);
    if version != VERSION {
        return Err(FrameError::UnsupportedVersion { found: version });
    }
    if crc32c::crc32c(&bytes[..52]) != u32_at(bytes, 52) {
        return Err(FrameError::HeaderChecksumMismatch);
    }
    let kind = match bytes[6] {
        0 => Kind::Full,
        1 => Kind::Delta,
        k => return Err(FrameError::BadKind(k)),
    };
    let compression = match bytes[7] {
        0 => Compression::None,
        1 => Compression::Lz4,
        c => return Err(FrameError::BadCompression(c)),
    };
    let (epoch, parent_epoch) = (u64_at(bytes, 24), u64_at(bytes, 32));
    let epochs_fit = match kind {
        Kind::Full => parent_epoch == 0,
        Kind::Delta => parent_epoch < epoch,
    };
    if !epochs_fit {
        return Err(FrameError::BadEpochs {
            epoch,
            parent: parent_epoch,
        });
    }
    let body_len = u64_at(bytes, 40);
    if body_len > MAX_BODY {
        return Err(FrameError::TooLarge(body_len));
    }
    Ok(Header {
        kind,
        compression,
        runtime_id: u64_at(bytes, 8),
        term: u64_at(bytes, 16),
        epoch,
        parent_epoch,
        body_len,
        body_crc: u32_at(bytes, 48),
    })
}

impl Header {
    /// Bytes of the whole frame.
    pub fn frame_len(&self) -> u64 {
        HEADER_LEN as u64 + self.body_len
    }
}

/// Checks the frame at the start of `bytes` (its header, length and body
/// checksum) without decoding the body; returns its header and the bytes
/// it takes. How a store learns where its chain ends without building the
/// image.
pub fn check_prefix(bytes: &[u8]) -> Result<(Header, usize), FrameError> {
    let header = decode_header(bytes)?;
    let len = header.frame_len();
    if (bytes.len() as u64) < len {
        return Err(FrameError::Truncated {
            needed: len,
            got: bytes.len() as u64,
        });
    }
    let found = crc32c::crc32c(&bytes[HEADER_LEN..len as usize]);
    if found != header.body_crc {
        return Err(FrameError::ChecksumMismatch {
            expected: header.body_crc,
            found,
        });
    }
    Ok((header, len as usize))
}

/// Decodes the frame at the start of `bytes`; returns it and the bytes it
/// took.
pub fn decode_prefix(bytes: &[u8]) -> Result<(Header, Image, usize), FrameError> {
    let (header, len) = check_prefix(bytes)?;
    let body = &bytes[HEADER_LEN..len];
    let raw;
    let plain = match header.compression {
        Compression::None => body,
        Compression::Lz4 => {
            raw = lz4_flex::decompress_size_prepended(body)
                .map_err(|e| FrameError::Decompress(e.to_string()))?;
            &raw[..]
        }
    };
    let mut image: Image =
        postcard::from_bytes(plain).map_err(|e| FrameError::Decode(e.to_string()))?;
    image.epoch = header.epoch;
    image.parent = header.parent_epoch;
    let body_kind = kind_of(&image);
    if body_kind != header.kind {
        return Err(FrameError::KindMismatch {
            header: header.kind,
            body: body_kind,
        });
    }
    Ok((header, image, len))
}

/// Checks exactly one frame (header, length, body checksum) without
/// decoding its body.
pub fn check(bytes: &[u8]) -> Result<Header, FrameError> {
    let (header, used) = check_prefix(bytes)?;
    if used != bytes.len() {
        return Err(FrameError::TrailingBytes((bytes.len() - used) as u64));
    }
    Ok(header)
}

/// Decodes exactly one frame.
pub fn decode(bytes: &[u8]) -> Result<(Header, Image), FrameError> {
    let (header, image, used) = decode_prefix(bytes)?;
    if used != bytes.len() {
        return Err(FrameError::TrailingBytes((bytes.len() - used) as u64));
    }
    Ok((header, image))
}
