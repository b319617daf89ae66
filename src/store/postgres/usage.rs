//! Key uses written to the API keys table: [`PostgresKeyStore::key_usage_sink`].

use std::fmt;

use time::{OffsetDateTime, PrimitiveDateTime};
use tokio_postgres::types::Type;
use uuid::Uuid;

use super::schema::{Schema, table};
use super::{PostgresKeyStore, chain};
use crate::store::KeyStoreError;

impl PostgresKeyStore {
    /// A [`UsageSink`](crate::usage::UsageSink) that writes key uses to the API keys table's
    /// time of last use ([`Schema::key_last_used_column`], GC Notify's `last_used_timestamp`):
    /// one `UPDATE` per batch, on the store's pool, never moving a later time back. Where the
    /// table has no such column (looked for at the first write), it writes nothing, and says
    /// so once, at warn.
    ///
    /// ```no_run
    /// # async fn run(store: notify_auth::store::PostgresKeyStore) {
    /// use notify_auth::usage::KeyUsage;
    ///
    /// let (usage, task) = KeyUsage::builder(store.key_usage_sink()).build();
    /// tokio::spawn(task);
    /// let layer = notify_auth::NotifyAuthLayer::new(store).record_key_usage(usage);
    /// # let _ = layer;
    /// # }
    /// ```
    pub fn key_usage_sink(&self) -> PostgresUsageSink {
        PostgresUsageSink {
            store: self.clone(),
            has_column: tokio::sync::OnceCell::new(),
        }
    }
}

/// Writes key uses to a [`PostgresKeyStore`]'s table: see
/// [`PostgresKeyStore::key_usage_sink`].
pub struct PostgresUsageSink {
    store: PostgresKeyStore,
    /// Whether the table has the column (looked for at the first write).
    has_column: tokio::sync::OnceCell<bool>,
}

impl fmt::Debug for PostgresUsageSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostgresUsageSink")
            .field("store", &self.store)
            .finish_non_exhaustive()
    }
}

#[async_trait::async_trait]
impl crate::usage::UsageSink for PostgresUsageSink {
    async fn write(&self, uses: &[(Uuid, i64)]) -> Result<(), KeyStoreError> {
        let store = &self.store;
        let schema = &store.inner.schema;
        let client = store.connection().await?;
        let fail =
            |e: tokio_postgres::Error| store.error(format_args!("writing key uses: {}", chain(&e)));
        let has_column = *self
            .has_column
            .get_or_try_init(|| async {
                let api_keys = table(&schema.api_keys_table)?;
                let row = client
                    .query_one(
                        Schema::has_column_sql(),
                        &[&api_keys, &schema.key_last_used, &"timestamp"],
                    )
                    .await
                    .map_err(fail)?;
                let has = row.try_get::<_, bool>(0).map_err(fail)?;
                if !has {
                    tracing::warn!(
                        "notify-auth: {} has no {} column (a timestamp): key uses are not written",
                        schema.api_keys_table,
                        schema.key_last_used
                    );
                }
                Ok::<_, KeyStoreError>(has)
            })
            .await?;
        if !has_column {
            return Ok(());
        }
        let ids: Vec<Uuid> = uses.iter().map(|(id, _)| *id).collect();
        let times: Vec<PrimitiveDateTime> = uses
            .iter()
            .map(|&(_, at)| {
                let at =
                    OffsetDateTime::from_unix_timestamp(at).unwrap_or(OffsetDateTime::UNIX_EPOCH);
                PrimitiveDateTime::new(at.date(), at.time())
            })
            .collect();
        let sql = schema.last_used_sql()?;
        let statement = client
            .prepare_typed_cached(&sql, &[Type::UUID_ARRAY, Type::TIMESTAMP_ARRAY])
            .await
            .map_err(fail)?;
        client
            .execute(&statement, &[&ids, &times])
            .await
            .map_err(fail)?;
        Ok(())
    }
}
