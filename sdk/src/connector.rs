//! The connector seam: how the SDK opens a byte stream to the agent.

use std::io;

use async_trait::async_trait;
use tokio::io::{AsyncRead, AsyncWrite};

/// Opens one connection to the agent per call.
#[async_trait]
pub trait Connector: Send + Sync + 'static {
    type Io: AsyncRead + AsyncWrite + Send + Unpin + 'static;
    /// Opens a new connection.
    async fn connect(&self) -> io::Result<Self::Io>;
    /// `host:port` for the `Host` header and error texts.
    fn authority(&self) -> String;
}

/// Real TCP to a fixed address.
#[derive(Clone, Debug)]
pub struct TcpConnector {
    pub addr: std::net::SocketAddr,
}

#[async_trait]
impl Connector for TcpConnector {
    type Io = tokio::net::TcpStream;

    async fn connect(&self) -> io::Result<Self::Io> {
        let s = tokio::net::TcpStream::connect(self.addr).await?;
        s.set_nodelay(true)?;
        Ok(s)
    }

    fn authority(&self) -> String {
        self.addr.to_string()
    }
}
