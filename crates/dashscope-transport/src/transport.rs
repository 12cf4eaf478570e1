//! The [`Transport`] and [`BlockingTransport`] traits and their `Shared*` handles.

use std::fmt::Debug;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;

use crate::{BlockingBody, ByteStream, TransportError};

/// Sends one HTTP request and hands back the response as it arrives.
///
/// This is the seam between the SDK and the network: the SDK builds a complete
/// `http::Request<Bytes>` (absolute URI, headers including `Authorization`, the JSON body), and
/// a transport performs exactly that exchange. Retries, redirects of meaning, and error
/// classification by status live above it.
///
/// # Contract
///
/// * `send` resolves as soon as the status and headers arrive. The body is a [`ByteStream`]
///   delivering chunks as they arrive, never buffered whole.
/// * A 4xx or 5xx status is an `Ok` response. `Err` means the exchange itself failed.
/// * Dropping the body before its end aborts the exchange and closes the connection.
/// * The transport does not follow redirects: a 3xx is returned as it is.
/// * The trait is object safe; share one with [`SharedTransport`].
#[async_trait]
pub trait Transport: Send + Sync + Debug {
    /// Sends `req` and resolves when the response's status and headers have arrived.
    ///
    /// # Errors
    ///
    /// A [`TransportError`] when no response arrived: the connection could not be made, a
    /// timeout fired, or the connection broke before the response head was complete.
    async fn send(
        &self,
        req: http::Request<Bytes>,
    ) -> Result<http::Response<ByteStream>, TransportError>;
}

/// The blocking twin of [`Transport`]: the same contract, with an [`Iterator`] body.
///
/// A blocking transport needs no async runtime; [`Iterator::next`] on the body blocks the
/// calling thread until the next chunk arrives.
///
/// It also honours the calling thread's deadline ([`current_deadline`](crate::current_deadline),
/// set with [`with_deadline`](crate::with_deadline)): `send` and body reads made while one is
/// set fail with a timeout when it is reached, instead of waiting for their own timeouts. This
/// is how a blocking caller bounds a whole exchange, or the wait for a stream's first event.
pub trait BlockingTransport: Send + Sync + Debug {
    /// Sends `req` and returns when the response's status and headers have arrived.
    ///
    /// # Errors
    ///
    /// A [`TransportError`] when no response arrived: the connection could not be made, a
    /// timeout fired, or the connection broke before the response head was complete.
    fn send(
        &self,
        req: http::Request<Bytes>,
    ) -> Result<http::Response<BlockingBody>, TransportError>;
}

/// A cheaply cloned, shared [`Transport`]: `Arc<dyn Transport>` that is itself a `Transport`.
#[derive(Clone, Debug)]
pub struct SharedTransport(Arc<dyn Transport>);

impl SharedTransport {
    /// Shares `transport`.
    pub fn new(transport: impl Transport + 'static) -> Self {
        Self(Arc::new(transport))
    }
}

impl From<Arc<dyn Transport>> for SharedTransport {
    fn from(transport: Arc<dyn Transport>) -> Self {
        Self(transport)
    }
}

#[async_trait]
impl Transport for SharedTransport {
    async fn send(
        &self,
        req: http::Request<Bytes>,
    ) -> Result<http::Response<ByteStream>, TransportError> {
        self.0.send(req).await
    }
}

/// A cheaply cloned, shared [`BlockingTransport`]: `Arc<dyn BlockingTransport>` that is itself
/// a `BlockingTransport`.
#[derive(Clone, Debug)]
pub struct SharedBlockingTransport(Arc<dyn BlockingTransport>);

impl SharedBlockingTransport {
    /// Shares `transport`.
    pub fn new(transport: impl BlockingTransport + 'static) -> Self {
        Self(Arc::new(transport))
    }
}

impl From<Arc<dyn BlockingTransport>> for SharedBlockingTransport {
    fn from(transport: Arc<dyn BlockingTransport>) -> Self {
        Self(transport)
    }
}

impl BlockingTransport for SharedBlockingTransport {
    fn send(
        &self,
        req: http::Request<Bytes>,
    ) -> Result<http::Response<BlockingBody>, TransportError> {
        self.0.send(req)
    }
}

#[async_trait]
impl<T: Transport + ?Sized> Transport for Arc<T> {
    async fn send(
        &self,
        req: http::Request<Bytes>,
    ) -> Result<http::Response<ByteStream>, TransportError> {
        (**self).send(req).await
    }
}

#[async_trait]
impl<T: Transport + ?Sized> Transport for Box<T> {
    async fn send(
        &self,
        req: http::Request<Bytes>,
    ) -> Result<http::Response<ByteStream>, TransportError> {
        (**self).send(req).await
    }
}

#[async_trait]
impl<T: Transport + ?Sized> Transport for &T {
    async fn send(
        &self,
        req: http::Request<Bytes>,
    ) -> Result<http::Response<ByteStream>, TransportError> {
        (**self).send(req).await
    }
}

impl<T: BlockingTransport + ?Sized> BlockingTransport for Arc<T> {
    fn send(
        &self,
        req: http::Request<Bytes>,
    ) -> Result<http::Response<BlockingBody>, TransportError> {
        (**self).send(req)
    }
}

impl<T: BlockingTransport + ?Sized> BlockingTransport for Box<T> {
    fn send(
        &self,
        req: http::Request<Bytes>,
    ) -> Result<http::Response<BlockingBody>, TransportError> {
        (**self).send(req)
    }
}

impl<T: BlockingTransport + ?Sized> BlockingTransport for &T {
    fn send(
        &self,
        req: http::Request<Bytes>,
    ) -> Result<http::Response<BlockingBody>, TransportError> {
        (**self).send(req)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Echo;

    #[async_trait]
    impl Transport for Echo {
        async fn send(
            &self,
            req: http::Request<Bytes>,
        ) -> Result<http::Response<ByteStream>, TransportError> {
            Ok(http::Response::new(ByteStream::from_bytes(req.into_body())))
        }
    }

    impl BlockingTransport for Echo {
        fn send(
            &self,
            req: http::Request<Bytes>,
        ) -> Result<http::Response<BlockingBody>, TransportError> {
            Ok(http::Response::new(BlockingBody::from_bytes(
                req.into_body(),
            )))
        }
    }

    fn _object_safe(_: &dyn Transport, _: &dyn BlockingTransport) {}

    fn assert_transport<T: Transport>(_: &T) {}
    fn assert_blocking<T: BlockingTransport>(_: &T) {}

    #[test]
    fn wrappers_forward() {
        let shared = SharedTransport::new(Echo);
        assert_transport(&shared);
        assert_transport(&Arc::new(Echo));
        let boxed: Box<dyn Transport> = Box::new(Echo);
        assert_transport(&boxed);
        assert_transport(&&Echo);
        let cloned = shared.clone();
        let req = http::Request::new(Bytes::from_static(b"ping"));
        let res = futures_util::FutureExt::now_or_never(Transport::send(&cloned, req))
            .unwrap()
            .unwrap();
        let body = futures_util::FutureExt::now_or_never(res.into_body().bytes(10)).unwrap();
        assert_eq!(body.unwrap(), "ping");

        let shared = SharedBlockingTransport::new(Echo);
        assert_blocking(&shared);
        assert_blocking(&Arc::new(Echo));
        let boxed: Box<dyn BlockingTransport> = Box::new(Echo);
        assert_blocking(&boxed);
        assert_blocking(&&Echo);
        let req = http::Request::new(Bytes::from_static(b"pong"));
        let res = BlockingTransport::send(&shared.clone(), req).unwrap();
        assert_eq!(res.into_body().bytes(10).unwrap(), "pong");
    }
}
