//! zlib and deflate decompression with a budget shared by every stream of a file: PDF
//! FlateDecode streams and PNG iCCP profiles.

use miniz_oxide::inflate::stream::{InflateState, inflate};
use miniz_oxide::{DataFormat, MZError, MZFlush, MZStatus};

/// Size of the buffer each inflated chunk is written to.
const CHUNK_LEN: usize = 64 * 1024;

/// Reasons inflating stops early.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum InflateError {
    /// The file's inflated bytes exceed the budget.
    OverLimit,
    /// The stream is damaged or truncated; the output before the damage was passed on.
    Corrupt,
}

/// Inflates streams, counting every output byte against one budget.
pub(crate) struct Inflater {
    state: Box<InflateState>,
    chunk: Vec<u8>,
    remaining: u64,
}

impl Inflater {
    /// Creates an inflater that allows `budget` output bytes in total.
    pub(crate) fn new(budget: u64) -> Self {
        Self {
            state: InflateState::new_boxed(DataFormat::Zlib),
            chunk: vec![0; CHUNK_LEN],
            remaining: budget,
        }
    }

    /// Inflates one stream and passes its output to `sink` chunk by chunk.
    ///
    /// Streams with a zlib header (RFC 1950) are read as zlib without checking the Adler-32
    /// checksum, which PDF readers also ignore. Other streams are read as raw deflate (RFC
    /// 1951), because some PDF writers produce them.
    pub(crate) fn inflate(
        &mut self,
        compressed: &[u8],
        mut sink: impl FnMut(&[u8]),
    ) -> Result<(), InflateError> {
        let format = if has_zlib_header(compressed) {
            DataFormat::ZLibIgnoreChecksum
        } else {
            DataFormat::Raw
        };
        self.state.reset(format);

        let mut input = compressed;
        loop {
            let result = inflate(&mut self.state, input, &mut self.chunk, MZFlush::None);
            input = input.get(result.bytes_consumed..).unwrap_or_default();
            let written = self.chunk.get(..result.bytes_written).unwrap_or_default();

            let written_len = u64::try_from(written.len()).unwrap_or(u64::MAX);
            if written_len > self.remaining {
                self.remaining = 0;
                return Err(InflateError::OverLimit);
            }
            self.remaining = self.remaining.saturating_sub(written_len);
            sink(written);

            match result.status {
                Ok(MZStatus::StreamEnd) => return Ok(()),
                Ok(_) if result.bytes_consumed == 0 && result.bytes_written == 0 => {
                    return Err(InflateError::Corrupt);
                }
                Ok(_) => {}
                // No progress is possible: the input ended before the end of the stream.
                Err(MZError::Buf) if input.is_empty() => return Err(InflateError::Corrupt),
                Err(MZError::Buf) if result.bytes_consumed == 0 && result.bytes_written == 0 => {
                    return Err(InflateError::Corrupt);
                }
                Err(MZError::Buf) => {}
                Err(_) => return Err(InflateError::Corrupt),
            }
        }
    }
}

/// Checks the zlib header: compression method 8 and a header checksum divisible by 31.
fn has_zlib_header(data: &[u8]) -> bool {
    match data {
        [cmf, flg, ..] => {
            let header = u16::from_be_bytes([*cmf, *flg]);
            cmf & 0x0F == 8 && header.checked_rem(31) == Some(0)
        }
        _ => false,
    }
}
