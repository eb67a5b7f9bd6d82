//! Body types shared by the listener, the guests and chained calls.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use http_body_util::BodyExt;
use http_body_util::combinators::UnsyncBoxBody;
use tokio::sync::mpsc;

/// Error type of every body the host moves.
pub type BodyError = Box<dyn std::error::Error + Send + Sync>;

/// A boxed body.
pub type HostBody = UnsyncBoxBody<Bytes, BodyError>;

/// Boxes any body into a [`HostBody`].
pub fn boxed<B>(body: B) -> HostBody
where
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BodyError>,
{
    body.map_err(Into::into).boxed_unsync()
}

/// Wraps complete bytes as a body.
pub fn full(bytes: impl Into<Bytes>) -> HostBody {
    boxed(http_body_util::Full::new(bytes.into()))
}

/// Set once a request body passed its limit.
#[derive(Clone, Default)]
pub struct LimitFlag(Arc<AtomicBool>);

impl LimitFlag {
    /// Returns whether the limit was passed.
    pub fn is_set(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// Wraps `body` so that reading more than `limit` bytes fails and sets `flag`.
pub fn limited(body: HostBody, limit: u64, flag: LimitFlag) -> HostBody {
    Limited {
        inner: body,
        remaining: limit,
        flag,
    }
    .boxed_unsync()
}

struct Limited {
    inner: HostBody,
    remaining: u64,
    flag: LimitFlag,
}

impl Body for Limited {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        let frame = match Pin::new(&mut self.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => frame,
            other => return other,
        };
        if let Some(data) = frame.data_ref() {
            let length = data.len() as u64;
            if length > self.remaining {
                self.flag.0.store(true, Ordering::SeqCst);
                return Poll::Ready(Some(Err("request body exceeds the host's limit".into())));
            }
            self.remaining -= length;
        }
        Poll::Ready(Some(Ok(frame)))
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// Creates a body fed frame by frame from a channel, used to stream a guest's response while the
/// guest keeps running.
pub fn channel(receiver: mpsc::Receiver<Result<Frame<Bytes>, BodyError>>) -> HostBody {
    ChannelBody { receiver }.boxed_unsync()
}

struct ChannelBody {
    receiver: mpsc::Receiver<Result<Frame<Bytes>, BodyError>>,
}

impl Body for ChannelBody {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        self.receiver.poll_recv(cx)
    }
}
