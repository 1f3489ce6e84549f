//! A TLS front for the dev server, as a production Temporal frontend would have: a test PKI
//! ([`TestPki`]: a CA, the frontend's certificate for `localhost`, a client certificate it
//! signed, and one signed by another CA), and [`TlsProxy`], which terminates TLS with
//! **client certificates required** (HTTP/2 by ALPN) and passes the bytes to the dev server.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;

/// PEM files of a throw-away PKI.
#[derive(Debug, Clone)]
pub struct TestPki {
    pub ca: PathBuf,
    pub server_cert: PathBuf,
    pub server_key: PathBuf,
    /// Signed by `ca`: accepted.
    pub client_cert: PathBuf,
    pub client_key: PathBuf,
    /// Signed by another CA: refused.
    pub stranger_cert: PathBuf,
    pub stranger_key: PathBuf,
    /// That other CA: a client trusting it refuses the front's certificate.
    pub other_ca: PathBuf,
    /// Signed by `ca` but expired (valid in 2020 only): refused.
    pub expired_cert: PathBuf,
    pub expired_key: PathBuf,
}

impl TestPki {
    /// Generates the PKI into `dir`.
    pub fn generate(dir: &Path) -> anyhow::Result<Self> {
        use rcgen::{
            BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
        };
        std::fs::create_dir_all(dir)?;
        let ca_for = |name: &str| -> anyhow::Result<(rcgen::Certificate, KeyPair)> {
            let key = KeyPair::generate()?;
            let mut p = CertificateParams::new(Vec::<String>::new())?;
            p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
            p.distinguished_name.push(DnType::CommonName, name);
            Ok((p.self_signed(&key)?, key))
        };
        let (ca, ca_key) = ca_for("jit test CA")?;
        let (other, other_key) = ca_for("someone else's CA")?;
        let leaf = |names: Vec<String>,
                    usage: ExtendedKeyUsagePurpose,
                    issuer: &rcgen::Certificate,
                    issuer_key: &KeyPair|
         -> anyhow::Result<(String, String)> {
            let key = KeyPair::generate()?;
            let mut p = CertificateParams::new(names)?;
            p.extended_key_usages = vec![usage];
            let cert = p.signed_by(&key, issuer, issuer_key)?;
            Ok((cert.pem(), key.serialize_pem()))
        };
        let (server_cert, server_key) = leaf(
            vec!["localhost".into()],
            ExtendedKeyUsagePurpose::ServerAuth,
            &ca,
            &ca_key,
        )?;
        let (client_cert, client_key) = leaf(
            vec!["jit-worker".into()],
            ExtendedKeyUsagePurpose::ClientAuth,
            &ca,
            &ca_key,
        )?;
        let (stranger_cert, stranger_key) = leaf(
            vec!["jit-worker".into()],
            ExtendedKeyUsagePurpose::ClientAuth,
            &other,
            &other_key,
        )?;
        let (expired_cert, expired_key) = {
            let key = KeyPair::generate()?;
            let mut p = CertificateParams::new(vec!["jit-worker".to_owned()])?;
            p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
            p.not_before = rcgen::date_time_ymd(2020, 1, 1);
            p.not_after = rcgen::date_time_ymd(2020, 12, 31);
            let cert = p.signed_by(&key, &ca, &ca_key)?;
            (cert.pem(), key.serialize_pem())
        };
        let write = |name: &str, pem: &str| -> anyhow::Result<PathBuf> {
            let p = dir.join(name);
            std::fs::write(&p, pem)?;
            Ok(p)
        };
        Ok(Self {
            ca: write("ca.pem", &ca.pem())?,
            server_cert: write("server.pem", &server_cert)?,
            server_key: write("server-key.pem", &server_key)?,
            client_cert: write("client.pem", &client_cert)?,
            client_key: write("client-key.pem", &client_key)?,
            stranger_cert: write("stranger.pem", &stranger_cert)?,
            stranger_key: write("stranger-key.pem", &stranger_key)?,
            other_ca: write("other-ca.pem", &other.pem())?,
            expired_cert: write("expired.pem", &expired_cert)?,
            expired_key: write("expired-key.pem", &expired_key)?,
        })
    }
}

/// The TLS front; stops when dropped.
#[derive(Debug)]
pub struct TlsProxy {
    /// Where it listens (127.0.0.1, a free port).
    pub addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

fn pem_certs(path: &Path) -> anyhow::Result<Vec<rustls::pki_types::CertificateDer<'static>>> {
    use rustls::pki_types::pem::PemObject;
    rustls::pki_types::CertificateDer::pem_file_iter(path)
        .with_context(|| format!("reading {}", path.display()))?
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| format!("parsing {}", path.display()))
}

impl TlsProxy {
    /// Terminates TLS (client certificates signed by `pki.ca` required) and forwards to
    /// `upstream` in plain text.
    pub async fn start(pki: &TestPki, upstream: SocketAddr) -> anyhow::Result<Self> {
        use rustls::pki_types::PrivateKeyDer;
        use rustls::pki_types::pem::PemObject;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = rustls::RootCertStore::empty();
        for c in pem_certs(&pki.ca)? {
            roots.add(c)?;
        }
        let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
            Arc::new(roots),
            provider.clone(),
        )
        .build()?;
        let key = PrivateKeyDer::from_pem_file(&pki.server_key)
            .with_context(|| format!("reading {}", pki.server_key.display()))?;
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_client_cert_verifier(verifier)
            .with_single_cert(pem_certs(&pki.server_cert)?, key)?;
        config.alpn_protocols = vec![b"h2".to_vec()];
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let task = tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    let Ok(mut tls) = acceptor.accept(tcp).await else {
                        return; // no or a wrong client certificate: refused
                    };
                    if let Ok(mut up) = tokio::net::TcpStream::connect(upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut tls, &mut up).await;
                    }
                });
            }
        });
        Ok(Self { addr, task })
    }
}

impl Drop for TlsProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}
