//! What the integration tests share: networks that more than one of them checks.

pub mod networks;
