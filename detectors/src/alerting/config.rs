//! What alerting is told: where notifications go ([`Destination`], also read from the config
//! file's `[[alerts.destination]]`) and how it behaves ([`AlertingConfig`]).

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use crate::delivery::DeliveryConfig;
use crate::lifecycle::LifecycleConfig;

/// The payload a destination receives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DestinationKind {
    Webhook,
    Alertmanager,
}

/// One place notifications go (`[[alerts.destination]]` in the config file).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Destination {
    pub kind: DestinationKind,
    /// Webhook: the URL to POST to; Alertmanager: its base URL.
    pub url: String,
    /// Names the outbox directory and the metrics label; defaults to kind + position.
    #[serde(default)]
    pub name: Option<String>,
}

impl Destination {
    pub fn webhook(url: &str) -> Self {
        Destination {
            kind: DestinationKind::Webhook,
            url: url.to_string(),
            name: None,
        }
    }

    pub fn alertmanager(url: &str) -> Self {
        Destination {
            kind: DestinationKind::Alertmanager,
            url: url.to_string(),
            name: None,
        }
    }

    /// Its name, else kind and position (`webhook-0`, `alertmanager-1`).
    pub fn name_or_default(&self, position: usize) -> String {
        self.name.clone().unwrap_or_else(|| match self.kind {
            DestinationKind::Webhook => format!("webhook-{position}"),
            DestinationKind::Alertmanager => format!("alertmanager-{position}"),
        })
    }
}

/// Everything alerting needs.
#[derive(Debug, Clone)]
pub struct AlertingConfig {
    /// Holds `alerts.json` and `outbox/<destination>/`.
    pub dir: PathBuf,
    pub destinations: Vec<Destination>,
    /// The node's base URL, for links back from notifications.
    pub node_url: String,
    pub lifecycle: LifecycleConfig,
    pub delivery: DeliveryConfig,
    /// Waiting notifications per destination.
    pub outbox_capacity: usize,
    /// Alert batches waiting for the dispatcher.
    pub queue: usize,
    /// Firing alerts are sent to Alertmanagers again this often (well under
    /// `delivery.alertmanager_hold`), as Prometheus does, so they stay firing there.
    pub alertmanager_resend: Duration,
}

impl AlertingConfig {
    pub fn new(dir: PathBuf, node_url: &str, destinations: Vec<Destination>) -> Self {
        AlertingConfig {
            dir,
            destinations,
            node_url: node_url.to_string(),
            lifecycle: LifecycleConfig::default(),
            delivery: DeliveryConfig::default(),
            outbox_capacity: 10_000,
            queue: 1_024,
            alertmanager_resend: Duration::from_secs(15 * 60),
        }
    }
}
