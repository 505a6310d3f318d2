//! The store as the ingest endpoint's [`RecordSink`].

use firewatch_ingest::endpoint::{RecordSink, SinkError, Stored};
use firewatch_ingest::Batch;

use crate::error::StoreError;
use crate::store::Store;

impl RecordSink for Store {
    async fn append(&self, batch: Batch) -> Result<Stored, SinkError> {
        match Store::append_batch(self, batch).await {
            Ok(o) => Ok(Stored {
                accepted: o.accepted,
                duplicates: o.duplicates,
            }),
            Err(StoreError::Overloaded { reason }) => Err(SinkError::Overloaded(reason.into())),
            Err(StoreError::ShuttingDown) => Err(SinkError::ShuttingDown),
            Err(e @ StoreError::TooLarge { .. }) => Err(SinkError::TooLarge(e.to_string())),
            Err(e) => Err(SinkError::Unavailable(e.to_string())),
        }
    }

    fn ready(&self) -> bool {
        self.is_healthy()
    }

    fn render_metrics(&self, out: &mut String) {
        self.refresh_gauges();
        self.metrics().render(out);
    }
}
