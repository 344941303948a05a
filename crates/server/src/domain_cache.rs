//! AskDocs domains cached in this process (moka), in front of the database.
//!
//! Every chat on AskDocs reads its domain, and domains change rarely, so reads
//! are served from memory. Writes go to the database and then invalidate the
//! whole cache, before they return: once an admin's deactivation has returned,
//! no chat in this process is answered from the old, active copy.
//!
//! A read races a write when it loads from the database just before the write
//! commits and stores its result just after the invalidation. Entries therefore
//! carry the cache *generation* they were loaded in; each write bumps it, and an
//! entry of an older generation is never served. Other instances of askgate see
//! a change within [`DEFAULT_TTL`], the backstop for every entry.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use askgate_domain::domain::{Domain, DomainDeletion, DomainUpdate, NewDomain};
use askgate_domain::ports::DomainRepository;
use askgate_domain::{DomainId, StoreError, UserId};
use async_trait::async_trait;
use moka::future::Cache;

/// How long an entry may be served at most (changes made by other instances).
pub const DEFAULT_TTL: Duration = Duration::from_secs(10);

/// Most domains (and unknown ids) remembered at once.
const MAX_ENTRIES: u64 = 10_000;

/// A [`DomainRepository`] that caches reads of another one.
pub struct CachedDomains {
    inner: Arc<dyn DomainRepository>,
    by_id: Cache<DomainId, (u64, Option<Arc<Domain>>)>,
    lists: Cache<bool, (u64, Vec<Domain>)>,
    generation: AtomicU64,
}

impl std::fmt::Debug for CachedDomains {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CachedDomains")
            .field("entries", &self.by_id.entry_count())
            .field("generation", &self.generation.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl CachedDomains {
    #[must_use]
    pub fn new(inner: Arc<dyn DomainRepository>, ttl: Duration) -> Self {
        Self {
            inner,
            by_id: Cache::builder()
                .max_capacity(MAX_ENTRIES)
                .time_to_live(ttl)
                .build(),
            lists: Cache::builder().max_capacity(2).time_to_live(ttl).build(),
            generation: AtomicU64::new(0),
        }
    }

    fn current(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Called after every write, whether it succeeded or not (a failed
    /// statement may still have committed).
    fn invalidate(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.by_id.invalidate_all();
        self.lists.invalidate_all();
    }
}

#[async_trait]
impl DomainRepository for CachedDomains {
    async fn list(&self, include_inactive: bool) -> Result<Vec<Domain>, StoreError> {
        let generation = self.current();
        if let Some((loaded_in, domains)) = self.lists.get(&include_inactive).await
            && loaded_in == generation
        {
            return Ok(domains);
        }
        let domains = self.inner.list(include_inactive).await?;
        self.lists
            .insert(include_inactive, (generation, domains.clone()))
            .await;
        Ok(domains)
    }

    async fn get(&self, id: DomainId) -> Result<Option<Arc<Domain>>, StoreError> {
        let generation = self.current();
        if let Some((loaded_in, domain)) = self.by_id.get(&id).await
            && loaded_in == generation
        {
            return Ok(domain);
        }
        let domain = self.inner.get(id).await?;
        self.by_id.insert(id, (generation, domain.clone())).await;
        Ok(domain)
    }

    async fn create(&self, domain: &NewDomain, created_by: UserId) -> Result<Domain, StoreError> {
        let created = self.inner.create(domain, created_by).await;
        self.invalidate();
        created
    }

    async fn update(
        &self,
        id: DomainId,
        update: &DomainUpdate,
    ) -> Result<Option<Domain>, StoreError> {
        let updated = self.inner.update(id, update).await;
        self.invalidate();
        updated
    }

    async fn delete(&self, id: DomainId) -> Result<DomainDeletion, StoreError> {
        let deleted = self.inner.delete(id).await;
        self.invalidate();
        deleted
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use askgate_domain::domain::{DisplayName, DomainConfiguration, DomainSlug};
    use chrono::Utc;

    use super::*;

    /// An in-memory repository that counts reads and can hold a read back.
    #[derive(Default)]
    struct Memory {
        domains: Mutex<Vec<Domain>>,
        reads: AtomicU64,
    }

    #[async_trait]
    impl DomainRepository for Memory {
        async fn list(&self, include_inactive: bool) -> Result<Vec<Domain>, StoreError> {
            self.reads.fetch_add(1, Ordering::SeqCst);
            let all = self.domains.lock().unwrap().clone();
            Ok(all
                .into_iter()
                .filter(|d| include_inactive || d.is_active)
                .collect())
        }

        async fn get(&self, id: DomainId) -> Result<Option<Arc<Domain>>, StoreError> {
            self.reads.fetch_add(1, Ordering::SeqCst);
            let found = self
                .domains
                .lock()
                .unwrap()
                .iter()
                .find(|d| d.id == id)
                .cloned()
                .map(Arc::new);
            Ok(found)
        }

        async fn create(&self, new: &NewDomain, _: UserId) -> Result<Domain, StoreError> {
            let domain = Domain {
                id: DomainId::generate(),
                name: new.name.clone(),
                display_name: new.display_name.clone(),
                description: None,
                api_endpoint: None,
                configuration: DomainConfiguration::empty(),
                is_active: new.is_active,
                allowed_roles: new.allowed_roles.clone(),
                created_by: None,
                created_at: Utc::now(),
                updated_at: Utc::now(),
            };
            self.domains.lock().unwrap().push(domain.clone());
            Ok(domain)
        }

        async fn update(
            &self,
            id: DomainId,
            update: &DomainUpdate,
        ) -> Result<Option<Domain>, StoreError> {
            let mut all = self.domains.lock().unwrap();
            let Some(d) = all.iter_mut().find(|d| d.id == id) else {
                return Ok(None);
            };
            d.is_active = update.is_active;
            Ok(Some(d.clone()))
        }

        async fn delete(&self, id: DomainId) -> Result<DomainDeletion, StoreError> {
            self.domains.lock().unwrap().retain(|d| d.id != id);
            Ok(DomainDeletion::Deleted)
        }
    }

    fn new_domain(active: bool) -> NewDomain {
        NewDomain {
            name: DomainSlug::parse("hr").unwrap(),
            display_name: DisplayName::parse("HR").unwrap(),
            description: None,
            api_endpoint: None,
            configuration: DomainConfiguration::empty(),
            is_active: active,
            allowed_roles: askgate_domain::domain::AllowedRoles::everyone(),
        }
    }

    #[tokio::test]
    async fn reads_are_served_from_memory_until_a_write() {
        let memory = Arc::new(Memory::default());
        let cache = CachedDomains::new(memory.clone(), DEFAULT_TTL);
        let domain = cache
            .create(&new_domain(true), UserId::generate())
            .await
            .unwrap();
        for _ in 0..3 {
            assert!(cache.get(domain.id).await.unwrap().unwrap().is_active);
            assert_eq!(cache.list(false).await.unwrap().len(), 1);
        }
        assert_eq!(memory.reads.load(Ordering::SeqCst), 2);

        cache.update(domain.id, &new_domain(false)).await.unwrap();
        // The deactivation is seen as soon as the write has returned.
        assert!(!cache.get(domain.id).await.unwrap().unwrap().is_active);
        assert!(cache.list(false).await.unwrap().is_empty());
        cache.delete(domain.id).await.unwrap();
        assert_eq!(cache.get(domain.id).await.unwrap(), None);
    }

    #[tokio::test]
    async fn an_entry_loaded_before_a_write_is_never_served_after_it() {
        let memory = Arc::new(Memory::default());
        let cache = CachedDomains::new(memory.clone(), DEFAULT_TTL);
        let domain = memory
            .create(&new_domain(true), UserId::generate())
            .await
            .unwrap();
        // A read that loaded the active domain and stores it only after an
        // admin's deactivation returned (simulated by storing it by hand).
        let stale_generation = cache.current();
        cache.update(domain.id, &new_domain(false)).await.unwrap();
        cache
            .by_id
            .insert(
                domain.id,
                (stale_generation, Some(Arc::new(domain.clone()))),
            )
            .await;
        assert!(!cache.get(domain.id).await.unwrap().unwrap().is_active);
    }

    #[tokio::test]
    async fn entries_expire_after_the_ttl() {
        let memory = Arc::new(Memory::default());
        let cache = CachedDomains::new(memory.clone(), Duration::from_millis(50));
        let domain = cache
            .create(&new_domain(true), UserId::generate())
            .await
            .unwrap();
        cache.get(domain.id).await.unwrap();
        // Changed behind the cache's back (another instance).
        memory.update(domain.id, &new_domain(false)).await.unwrap();
        assert!(cache.get(domain.id).await.unwrap().unwrap().is_active);
        tokio::time::sleep(Duration::from_millis(120)).await;
        assert!(!cache.get(domain.id).await.unwrap().unwrap().is_active);
    }
}
