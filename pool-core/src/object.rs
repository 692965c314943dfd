//! The handle a caller holds while using a pooled object.

use std::{
    fmt,
    ops::{Deref, DerefMut},
};

use crate::inner::{ObjectInner, PoolInner};
use crate::manager::Manager;
use crate::metrics::Metrics;
use crate::sync::HandleArc;

/// An object checked out of a [`Pool`](crate::Pool). Dropping it returns it to the pool;
/// [`Object::take`] keeps it and frees its slot.
#[must_use]
pub struct Object<M: Manager> {
    /// `None` only after `take` (or inside `drop`).
    pub(crate) inner: Option<ObjectInner<M>>,
    pub(crate) pool: HandleArc<PoolInner<M>>,
}

impl<M: Manager> Object<M> {
    /// Detaches the object from its pool: its slot is freed and the pool
    /// forgets it.
    #[must_use]
    pub fn take(mut this: Self) -> M::Type {
        let mut inner = this.inner.take().expect("object present until dropped");
        this.pool
            .observe
            .closed(crate::observe::CloseReason::Taken, 1);
        this.pool.detach(&mut inner.obj);
        inner.obj
    }

    /// Takes the object out of the pool but keeps its slot: the returned
    /// [`KeptSlot`] still counts against `max_size` (and in
    /// `status().size`) until it is dropped, which frees the slot as if the
    /// object had come back broken. For a resource that replaces the pooled
    /// one but must stay within the pool's budget (a dedicated pub/sub
    /// connection, say).
    pub fn keep_slot(mut this: Self) -> (M::Type, KeptSlot<M>) {
        let inner = this.inner.take().expect("object present until dropped");
        let slot = KeptSlot {
            pool: this.pool.clone(),
        };
        (inner.obj, slot)
    }

    /// A process-unique id of the object.
    pub fn id(this: &Self) -> ObjectId {
        ObjectId(this.inner().id)
    }

    /// The object's metrics.
    pub fn metrics(this: &Self) -> &Metrics {
        &this.inner().metrics
    }

    fn inner(&self) -> &ObjectInner<M> {
        self.inner.as_ref().expect("object present until dropped")
    }
}

impl<M: Manager> Drop for Object<M> {
    fn drop(&mut self) {
        if let Some(inner) = self.inner.take() {
            self.pool.return_object(inner);
        }
    }
}

impl<M: Manager> Deref for Object<M> {
    type Target = M::Type;
    fn deref(&self) -> &M::Type {
        &self.inner().obj
    }
}

impl<M: Manager> DerefMut for Object<M> {
    fn deref_mut(&mut self) -> &mut M::Type {
        &mut self
            .inner
            .as_mut()
            .expect("object present until dropped")
            .obj
    }
}

impl<M: Manager> AsRef<M::Type> for Object<M> {
    fn as_ref(&self) -> &M::Type {
        self
    }
}

impl<M: Manager> AsMut<M::Type> for Object<M> {
    fn as_mut(&mut self) -> &mut M::Type {
        self
    }
}

impl<M> fmt::Debug for Object<M>
where
    M: Manager,
    M::Type: fmt::Debug,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let inner = self.inner.as_ref();
        f.debug_struct("Object")
            .field("obj", &inner.map(|i| &i.obj))
            .field("id", &inner.map(|i| i.id))
            .field("metrics", &inner.map(|i| i.metrics))
            .finish()
    }
}

/// A pool slot held without an object: see [`Object::keep_slot`].
#[must_use = "dropping it frees the slot at once"]
pub struct KeptSlot<M: Manager> {
    pool: HandleArc<PoolInner<M>>,
}

impl<M: Manager> Drop for KeptSlot<M> {
    fn drop(&mut self) {
        self.pool.release_kept_slot();
    }
}

impl<M: Manager> fmt::Debug for KeptSlot<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeptSlot").finish_non_exhaustive()
    }
}

/// Id of an [`Object`].
#[derive(Copy, Clone, Debug, Hash, Eq, PartialEq, Ord, PartialOrd)]
pub struct ObjectId(usize);

impl fmt::Display for ObjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}
