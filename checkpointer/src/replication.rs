//! The replication link's transport: mutual TLS over QUIC (certificates,
//! client and server configs, the loopback-only insecure mode). What
//! travels on it is [`crate::protocol`]'s.

use std::path::Path;
use std::sync::Arc;

use quinn::rustls;

#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    #[error("connection: {0}")]
    Io(#[from] std::io::Error),
    #[error("message does not decode: {0}")]
    Decode(String),
    #[error("message of {0} bytes is too large")]
    TooLarge(u32),
    #[error("TLS setup: {0}")]
    Tls(String),
    #[error("QUIC: {0}")]
    Quic(String),
}

/// The certificates of a deployment, as `understudy certs` writes them.
pub struct Certs {
    pub ca: rustls::pki_types::CertificateDer<'static>,
    pub cert: rustls::pki_types::CertificateDer<'static>,
    pub key: rustls::pki_types::PrivateKeyDer<'static>,
}

/// The name the replica's certificate is issued for, and that primaries
/// check.
pub const REPLICA_NAME: &str = "understudy-replica";

impl Certs {
    /// Reads `ca.der` and `<role>.der` / `<role>.key` from `dir`.
    pub fn load(dir: &Path, role: &str) -> Result<Certs, LinkError> {
        let read = |name: &str| {
            std::fs::read(dir.join(name))
                .map_err(|e| LinkError::Tls(format!("{}: {e}", dir.join(name).display())))
        };
        Ok(Certs {
            ca: read("ca.der")?.into(),
            cert: read(&format!("{role}.der"))?.into(),
            key: rustls::pki_types::PrivateKeyDer::Pkcs8(read(&format!("{role}.key"))?.into()),
        })
    }

    fn roots(&self) -> Result<rustls::RootCertStore, LinkError> {
        let mut roots = rustls::RootCertStore::empty();
        roots
            .add(self.ca.clone())
            .map_err(|e| LinkError::Tls(e.to_string()))?;
        Ok(roots)
    }
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The replica's QUIC server config: its certificate, and only clients
/// whose certificate the CA signed.
pub fn server_config(certs: &Certs) -> Result<quinn::ServerConfig, LinkError> {
    let tls = |e: rustls::Error| LinkError::Tls(e.to_string());
    let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
        Arc::new(certs.roots()?),
        provider(),
    )
    .build()
    .map_err(|e| LinkError::Tls(e.to_string()))?;
    let config = rustls::ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(tls)?
        .with_client_cert_verifier(verifier)
        .with_single_cert(vec![certs.cert.clone()], certs.key.clone_key())
        .map_err(tls)?;
    let quic = quinn::crypto::rustls::QuicServerConfig::try_from(config)
        .map_err(|e| LinkError::Tls(e.to_string()))?;
    let mut server = quinn::ServerConfig::with_crypto(Arc::new(quic));
    server.transport_config(Arc::new(transport()));
    Ok(server)
}

/// The primary's QUIC client config: the replica must present a
/// certificate the CA signed; the primary presents its own.
pub fn client_config(certs: &Certs) -> Result<quinn::ClientConfig, LinkError> {
    let tls = |e: rustls::Error| LinkError::Tls(e.to_string());
    let config = rustls::ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(tls)?
        .with_root_certificates(certs.roots()?)
        .with_client_auth_cert(vec![certs.cert.clone()], certs.key.clone_key())
        .map_err(tls)?;
    let quic = quinn::crypto::rustls::QuicClientConfig::try_from(config)
        .map_err(|e| LinkError::Tls(e.to_string()))?;
    let mut client = quinn::ClientConfig::new(Arc::new(quic));
    client.transport_config(Arc::new(transport()));
    Ok(client)
}

fn transport() -> quinn::TransportConfig {
    let mut t = quinn::TransportConfig::default();
    // The replica's failover decision is its own (heartbeats and its
    // timeout). This one is the primary's: a replica that vanished (killed,
    // restarted with new keys) is given up after a second, and the
    // primary reconnects and resyncs.
    t.max_idle_timeout(Some(
        quinn::IdleTimeout::try_from(std::time::Duration::from_secs(1)).expect("1 s fits"),
    ));
    t.keep_alive_interval(Some(std::time::Duration::from_millis(200)));
    t
}

/// Writes a CA and a replica and a primary certificate signed by it into
/// `dir` (`ca.der`, `replica.der`/`.key`, `primary.der`/`.key`).
pub fn make_certs(dir: &Path) -> Result<(), LinkError> {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
    let err = |e: rcgen::Error| LinkError::Tls(e.to_string());
    std::fs::create_dir_all(dir)?;
    let ca_key = KeyPair::generate().map_err(err)?;
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).map_err(err)?;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "understudy CA");
    let ca_cert = ca_params.self_signed(&ca_key).map_err(err)?;
    std::fs::write(dir.join("ca.der"), ca_cert.der())?;
    let issuer = Issuer::new(ca_params, ca_key);
    for (role, name) in [("replica", REPLICA_NAME), ("primary", "understudy-primary")] {
        let key = KeyPair::generate().map_err(err)?;
        let mut params = CertificateParams::new(vec![name.to_owned()]).map_err(err)?;
        params.distinguished_name.push(DnType::CommonName, name);
        let cert = params.signed_by(&key, &issuer).map_err(err)?;
        std::fs::write(dir.join(format!("{role}.der")), cert.der())?;
        std::fs::write(dir.join(format!("{role}.key")), key.serialize_der())?;
    }
    Ok(())
}

/// The explicitly insecure mode, for tests on one machine only: the
/// replica presents a throwaway self-signed certificate and asks for none;
/// the primary accepts any replica certificate. Both refuse non-loopback
/// addresses.
pub mod insecure {
    use std::net::SocketAddr;
    use std::sync::Arc;

    use quinn::rustls;
    use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
    use rustls::pki_types::{CertificateDer, ServerName, UnixTime};

    use super::{provider, transport, LinkError, REPLICA_NAME};

    fn loopback_only(addr: SocketAddr) -> Result<(), LinkError> {
        if addr.ip().is_loopback() {
            Ok(())
        } else {
            Err(LinkError::Tls(format!(
                "the insecure mode is for loopback tests only, not {addr}"
            )))
        }
    }

    /// The replica's side: a self-signed certificate made now.
    pub fn server_config(listen: SocketAddr) -> Result<quinn::ServerConfig, LinkError> {
        loopback_only(listen)?;
        let cert = rcgen::generate_simple_self_signed(vec![REPLICA_NAME.to_owned()])
            .map_err(|e| LinkError::Tls(e.to_string()))?;
        let key = rustls::pki_types::PrivateKeyDer::Pkcs8(cert.signing_key.serialize_der().into());
        let config = rustls::ServerConfig::builder_with_provider(provider())
            .with_protocol_versions(&[&rustls::version::TLS13])
            .map_err(|e| LinkError::Tls(e.to_string()))?
            .with_no_client_auth()
            .with_single_cert(vec![cert.cert.der().clone()], key)
            .map_err(|e| LinkError::Tls(e.to_string()))?;
        let quic = quinn::crypto::rustls::QuicServerConfig::try_from(config)
            .map_err(|e| LinkError::Tls(e.to_string()))?;
        let mut server = quinn::ServerConfig::with_crypto(Arc::new(quic));
        server.transport_config(Arc::new(transport()));
        Ok(server)
    }

    /// Accepts whatever certificate the replica shows (the handshake's
    /// signatures are still checked against it).
    #[derive(Debug)]
    struct AnyReplica(Arc<rustls::crypto::CryptoProvider>);

    impl ServerCertVerifier for AnyReplica {
        fn verify_server_cert(
            &self,
            _end_entity: &CertificateDer<'_>,
            _intermediates: &[CertificateDer<'_>],
            _server_name: &ServerName<'_>,
            _ocsp: &[u8],
            _now: UnixTime,
        ) -> Result<ServerCertVerified, rustls::Error> {
            Ok(ServerCertVerified::assertion())
        }

        fn verify_tls12_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &rustls::DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            rustls::crypto::verify_tls12_signature(
                message,
                cert,
                dss,
                &self.0.signature_verification_algorithms,
            )
        }

        fn verify_tls13_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &rustls::DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            rustls::crypto::verify_tls13_signature(
                message,
                cert,
                dss,
                &self.0.signature_verification_algorithms,
            )
        }

        fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
            self.0.signature_verification_algorithms.supported_schemes()
        }
    }

    /// The primary's side.
    pub fn client_config(replica: SocketAddr) -> Result<quinn::ClientConfig, LinkError> {
        loopback_only(replica)?;
        let provider = provider();
        let config = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(&[&rustls::version::TLS13])
            .map_err(|e| LinkError::Tls(e.to_string()))?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyReplica(provider)))
            .with_no_client_auth();
        let quic = quinn::crypto::rustls::QuicClientConfig::try_from(config)
            .map_err(|e| LinkError::Tls(e.to_string()))?;
        let mut client = quinn::ClientConfig::new(Arc::new(quic));
        client.transport_config(Arc::new(transport()));
        Ok(client)
    }
}
