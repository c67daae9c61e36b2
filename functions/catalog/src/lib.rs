//! The catalog context: products (each sold as one SKU, whose id is the product id), their
//! prices in integer minor units, and a tree of categories.
//!
//! Catalog is where the saga's prices come from, but nobody calls it during checkout: its
//! changes reach ordering as events (`product.created`, `product.price-changed`,
//! `product.discontinued`, `product.reactivated`), written to the outbox with the change.
//!
//! - [`domain`]: the rules without I/O — ids, names, prices, status changes, paging.
//! - [`products`]: the use cases on MariaDB.
//! - [`attributes`]: category attributes and the values products give them.
//! - [`http`]: the HTTP functions, admin writes and public reads.
//! - [`cache`]: the optional Redis cache of product and browse pages, and what retires them.

pub mod activity;
pub mod attributes;
pub mod brands;
pub mod cache;
pub mod domain;
pub mod http;
pub mod openapi;
pub mod products;
pub mod promotions;
pub mod reviews;
pub mod search;
pub mod seed;
pub mod skus;
