//! A test Kubernetes API server (no kube-apiserver exists on Debian): it serves Services
//! (`/api/v1`) and EndpointSlices (`/apis/discovery.k8s.io/v1`) over HTTP with the real wire
//! protocol — JSON lists built from `k8s-openapi` types with a list resourceVersion, chunked
//! watch streams of `ADDED`/`MODIFIED`/`DELETED`/`BOOKMARK` events resumed from a
//! resourceVersion, and `410 Gone` (an `ERROR` event with a `Status`) for a resourceVersion
//! older than the retained history. Tests can compact the history, push bookmarks, stop and
//! restart the server on the same port, and get a kubeconfig pointing at it.

pub mod objects;
mod server;

/// The object types, for tests that build their own.
pub use k8s_openapi;
pub use server::KubeApi;
