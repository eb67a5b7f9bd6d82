//! A key-value store on Redis, with keys written as Spin's Redis store writes them (no prefix,
//! counters as decimal text through `INCRBY`).
//!
//! NOTE: keys carry no label prefix, as in Spin, so each store label needs its own Redis
//! database or server. Start-up rejects two labels with the same Redis URL.

use redis::AsyncCommands;
use redis::aio::MultiplexedConnection;

use super::{StoreError, Swap};

/// Compare-and-swap in one server-side step: `KEYS[1]` is the key, `ARGV[1]` is "1" when a
/// previous value is expected and `ARGV[2]` that value, `ARGV[3]` the new value.
const COMPARE_AND_SWAP: &str = r"
local current = redis.call('GET', KEYS[1])
local matches
if ARGV[1] == '1' then matches = (current == ARGV[2]) else matches = (current == false) end
if matches then
  redis.call('SET', KEYS[1], ARGV[3])
  return {1}
end
if current == false then return {0} end
return {0, current}
";

pub struct RedisStore {
    connection: MultiplexedConnection,
    swap_script: redis::Script,
}

impl RedisStore {
    pub async fn open(url: &str, label: &str) -> Result<Self, StoreError> {
        let client = redis::Client::open(url).map_err(|e| {
            StoreError::Backend(format!("invalid redis url for store {label:?}: {e}"))
        })?;
        let connection = client
            .get_multiplexed_async_connection()
            .await
            .map_err(|e| StoreError::Backend(format!("redis connect for store {label:?}: {e}")))?;
        Ok(Self {
            connection,
            swap_script: redis::Script::new(COMPARE_AND_SWAP),
        })
    }
}

#[async_trait::async_trait]
impl super::Store for RedisStore {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let mut connection = self.connection.clone();
        connection.get(key).await.map_err(backend)
    }

    async fn set(&self, key: &str, value: &[u8]) -> Result<(), StoreError> {
        let mut connection = self.connection.clone();
        connection.set(key, value).await.map_err(backend)
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        let mut connection = self.connection.clone();
        let _: i64 = connection.del(key).await.map_err(backend)?;
        Ok(())
    }

    async fn exists(&self, key: &str) -> Result<bool, StoreError> {
        let mut connection = self.connection.clone();
        connection.exists(key).await.map_err(backend)
    }

    async fn keys(&self) -> Result<Vec<String>, StoreError> {
        let mut connection = self.connection.clone();
        let mut keys = Vec::new();
        let mut iter: redis::AsyncIter<String> = connection.scan().await.map_err(backend)?;
        while let Some(key) = iter.next_item().await {
            keys.push(key.map_err(backend)?);
        }
        Ok(keys)
    }

    async fn increment(&self, key: &str, delta: i64) -> Result<i64, StoreError> {
        let mut connection = self.connection.clone();
        connection.incr(key, delta).await.map_err(|e| {
            if e.kind() == redis::ErrorKind::Server(redis::ServerErrorKind::ResponseError) {
                StoreError::NotACounter
            } else {
                backend(e)
            }
        })
    }

    async fn compare_and_swap(
        &self,
        key: &str,
        expected: Option<&[u8]>,
        new: &[u8],
    ) -> Result<Swap, StoreError> {
        let mut connection = self.connection.clone();
        let mut invocation = self.swap_script.key(key);
        match expected {
            Some(value) => invocation.arg("1").arg(value),
            None => invocation.arg("0").arg(""),
        };
        invocation.arg(new);
        let reply: Vec<redis::Value> = invocation
            .invoke_async(&mut connection)
            .await
            .map_err(backend)?;
        match reply.as_slice() {
            [redis::Value::Int(1)] => Ok(Swap::Written),
            [redis::Value::Int(0)] => Ok(Swap::Conflict(None)),
            [redis::Value::Int(0), redis::Value::BulkString(current)] => {
                Ok(Swap::Conflict(Some(current.clone())))
            }
            other => Err(StoreError::Backend(format!(
                "unexpected compare-and-swap reply with {} elements",
                other.len()
            ))),
        }
    }
}

fn backend(error: redis::RedisError) -> StoreError {
    StoreError::Backend(error.to_string())
}
