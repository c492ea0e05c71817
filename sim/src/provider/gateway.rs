//! The provider's HTTP face: the gateway API for an institution's intake (list, fetch raw,
//! acknowledge), the directory look-up (ÖVD, IT-BInfra-IO §6), and the OpenAPI document.

use std::sync::Arc;

use axum::Router;

use super::Shared;

/// The routes of the HTTP face.
pub(crate) fn router(_shared: Arc<Shared>) -> Router {
    Router::new()
}
