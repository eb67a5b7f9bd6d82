//! The optional antivirus scan: `clamd`'s INSTREAM command over TCP.
//!
//! The `clamav_address` variable (`IP:PORT`) turns the scan on; its `tcp://` origin must be in
//! the component's `allowed_outbound_hosts`. The protocol: the command `zINSTREAM\0`, the
//! bytes in chunks each prefixed with its length as a 32-bit big-endian number, a zero length
//! to end, then one reply ending in `\0`. Only the exact reply `stream: OK` passes. A virus
//! name, a size-limit error, any other reply, a refused connection and a timeout all count as
//! failures, so a file that could not be scanned is never released.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// Bytes sent per INSTREAM chunk.
const CHUNK: usize = 64 * 1024;

/// Maximum wait for clamd to accept the connection, read the bytes or reply.
const TIMEOUT: Duration = Duration::from_secs(20);

/// Maximum length of clamd's reply, in bytes.
const MAX_REPLY: usize = 1024;

/// The result of a scan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scan {
    /// clamd replied `stream: OK`.
    Clean,
    /// clamd named a signature.
    Infected,
    /// The scan did not complete; the detail is for the log only.
    Failed(&'static str),
}

/// Scans `contents` with the clamd at `address`.
pub fn scan(address: &str, contents: &[u8]) -> Scan {
    let Ok(address) = address.parse::<SocketAddr>() else {
        return Scan::Failed("clamav_address is not IP:PORT");
    };
    let Ok(mut stream) = TcpStream::connect_timeout(&address, TIMEOUT) else {
        return Scan::Failed("connect");
    };
    // NOTE: where the platform cannot set socket timeouts, the request deadline of the host
    // bounds the wait instead; the file then stays quarantined.
    let _ = stream.set_read_timeout(Some(TIMEOUT));
    let _ = stream.set_write_timeout(Some(TIMEOUT));

    if send(&mut stream, contents).is_err() {
        return Scan::Failed("send");
    }
    let Ok(reply) = read_reply(&mut stream) else {
        return Scan::Failed("read");
    };
    let reply = reply.strip_suffix(b"\0").unwrap_or(&reply);
    match reply {
        b"stream: OK" => Scan::Clean,
        _ if reply.ends_with(b" FOUND") => Scan::Infected,
        _ => Scan::Failed("unexpected reply"),
    }
}

/// Reads up to the reply's terminating `\0`, or to the end of the stream.
fn read_reply(stream: &mut TcpStream) -> std::io::Result<Vec<u8>> {
    let mut reply = Vec::new();
    let mut buffer = [0u8; 256];
    while !reply.contains(&0) && reply.len() < MAX_REPLY {
        let read = stream.read(&mut buffer)?;
        if read == 0 {
            break;
        }
        reply.extend_from_slice(buffer.get(..read).unwrap_or_default());
    }
    Ok(reply)
}

fn send(stream: &mut TcpStream, contents: &[u8]) -> std::io::Result<()> {
    stream.write_all(b"zINSTREAM\0")?;
    for chunk in contents.chunks(CHUNK) {
        let length = u32::try_from(chunk.len()).unwrap_or(u32::MAX);
        stream.write_all(&length.to_be_bytes())?;
        stream.write_all(chunk)?;
    }
    stream.write_all(&0u32.to_be_bytes())?;
    stream.flush()
}
