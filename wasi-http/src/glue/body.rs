//! Bodies over WASI streams, both ways and both directions of the
//! component: written in blocking writes of at most 4 KiB (the most a
//! `blocking-write-and-flush` may be given), read up to a limit and, for
//! answers, before a deadline.

use wasip2::io::poll::{self, Pollable};
use wasip2::io::streams::{InputStream, OutputStream, StreamError};

/// Bytes per blocking write: WASI's output-stream contract.
const WRITE_CHUNK: usize = 4096;
/// Bytes asked of a stream per read.
const READ_CHUNK: u64 = 64 * 1024;

/// Why a body could not be read whole.
pub enum ReadError {
    /// It is longer than the limit.
    TooLarge,
    /// The deadline passed first.
    Timeout,
    /// The stream failed.
    Broken(StreamError),
}

/// Writes `bytes` whole.
pub fn write_all(stream: &OutputStream, bytes: &[u8]) -> Result<(), StreamError> {
    bytes
        .chunks(WRITE_CHUNK)
        .try_for_each(|chunk| stream.blocking_write_and_flush(chunk))
}

/// Reads `stream` to its end: at most `limit` bytes, and, with a deadline,
/// only until it passes.
pub fn read_all(stream: &InputStream, limit: u64, deadline: Option<&Pollable>) -> Result<Vec<u8>, ReadError> {
    let mut bytes = Vec::new();
    loop {
        match stream.read(READ_CHUNK) {
            Ok(chunk) if chunk.is_empty() => {
                let readable = stream.subscribe();
                match deadline {
                    Some(deadline) => {
                        if !poll::poll(&[&readable, deadline]).contains(&0) {
                            return Err(ReadError::Timeout);
                        }
                    }
                    None => readable.block(),
                }
            }
            Ok(chunk) => {
                bytes.extend_from_slice(&chunk);
                if bytes.len() as u64 > limit {
                    return Err(ReadError::TooLarge);
                }
            }
            Err(StreamError::Closed) => return Ok(bytes),
            Err(e) => return Err(ReadError::Broken(e)),
        }
    }
}
