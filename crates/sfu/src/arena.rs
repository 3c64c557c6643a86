//! Typed slot storage: objects live in a `Vec`, named by a small copyable key (index +
//! generation), so the forwarding path follows keys instead of hashing string ids, and a key
//! kept after its object was removed finds nothing rather than a newcomer in the same slot.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::marker::PhantomData;

pub struct Key<T> {
    index: u32,
    generation: u32,
    _t: PhantomData<fn() -> T>,
}

impl<T> Key<T> {
    /// The slot index (for tests and debugging output).
    pub fn index(self) -> u32 {
        self.index
    }

    /// The same slot as a key of another type (tests that need keys without objects).
    #[cfg(test)]
    pub fn cast<U>(self) -> Key<U> {
        Key { index: self.index, generation: self.generation, _t: PhantomData }
    }
}

impl<T> Clone for Key<T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for Key<T> {}
impl<T> PartialEq for Key<T> {
    fn eq(&self, o: &Self) -> bool {
        self.index == o.index && self.generation == o.generation
    }
}
impl<T> Eq for Key<T> {}
impl<T> Hash for Key<T> {
    fn hash<H: Hasher>(&self, h: &mut H) {
        self.index.hash(h);
        self.generation.hash(h);
    }
}
impl<T> PartialOrd for Key<T> {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl<T> Ord for Key<T> {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        (self.index, self.generation).cmp(&(o.index, o.generation))
    }
}
impl<T> fmt::Debug for Key<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}.{}", self.index, self.generation)
    }
}

enum Slot<T> {
    Used { generation: u32, value: T },
    Free { generation: u32 },
}

pub struct Arena<T> {
    slots: Vec<Slot<T>>,
    free: Vec<u32>,
    len: usize,
}

impl<T> Default for Arena<T> {
    fn default() -> Self {
        Arena { slots: Vec::new(), free: Vec::new(), len: 0 }
    }
}

impl<T> Arena<T> {
    pub fn insert(&mut self, value: T) -> Key<T> {
        self.len += 1;
        if let Some(index) = self.free.pop() {
            let slot = &mut self.slots[index as usize];
            let generation = match slot {
                Slot::Free { generation } => *generation,
                Slot::Used { .. } => unreachable!("free list names a used slot"),
            };
            *slot = Slot::Used { generation, value };
            return Key { index, generation, _t: PhantomData };
        }
        let index = self.slots.len() as u32;
        self.slots.push(Slot::Used { generation: 0, value });
        Key { index, generation: 0, _t: PhantomData }
    }

    pub fn get(&self, k: Key<T>) -> Option<&T> {
        match self.slots.get(k.index as usize) {
            Some(Slot::Used { generation, value }) if *generation == k.generation => Some(value),
            _ => None,
        }
    }

    pub fn get_mut(&mut self, k: Key<T>) -> Option<&mut T> {
        match self.slots.get_mut(k.index as usize) {
            Some(Slot::Used { generation, value }) if *generation == k.generation => Some(value),
            _ => None,
        }
    }

    pub fn contains(&self, k: Key<T>) -> bool {
        self.get(k).is_some()
    }

    pub fn remove(&mut self, k: Key<T>) -> Option<T> {
        let slot = self.slots.get_mut(k.index as usize)?;
        match slot {
            Slot::Used { generation, .. } if *generation == k.generation => {
                let next = Slot::Free { generation: generation.wrapping_add(1) };
                let Slot::Used { value, .. } = std::mem::replace(slot, next) else { unreachable!() };
                self.free.push(k.index);
                self.len -= 1;
                Some(value)
            }
            _ => None,
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn iter(&self) -> impl Iterator<Item = (Key<T>, &T)> {
        self.slots.iter().enumerate().filter_map(|(i, s)| match s {
            Slot::Used { generation, value } => Some((Key { index: i as u32, generation: *generation, _t: PhantomData }, value)),
            Slot::Free { .. } => None,
        })
    }

    pub fn iter_mut(&mut self) -> impl Iterator<Item = (Key<T>, &mut T)> {
        self.slots.iter_mut().enumerate().filter_map(|(i, s)| match s {
            Slot::Used { generation, value } => Some((Key { index: i as u32, generation: *generation, _t: PhantomData }, value)),
            Slot::Free { .. } => None,
        })
    }

    pub fn keys(&self) -> Vec<Key<T>> {
        self.iter().map(|(k, _)| k).collect()
    }
}

impl<T> std::ops::Index<Key<T>> for Arena<T> {
    type Output = T;
    fn index(&self, k: Key<T>) -> &T {
        self.get(k).expect("stale arena key")
    }
}

impl<T> std::ops::IndexMut<Key<T>> for Arena<T> {
    fn index_mut(&mut self, k: Key<T>) -> &mut T {
        self.get_mut(k).expect("stale arena key")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stale_keys_find_nothing() {
        let mut a = Arena::default();
        let x = a.insert("x");
        let y = a.insert("y");
        assert_eq!(a.remove(x), Some("x"));
        let z = a.insert("z");
        assert_eq!(z.index(), x.index(), "the slot is reused");
        assert!(a.get(x).is_none(), "but the old key does not find the newcomer");
        assert_eq!(a[z], "z");
        assert_eq!(a[y], "y");
        assert_eq!(a.len(), 2);
        assert_eq!(a.iter().map(|(_, v)| *v).collect::<Vec<_>>(), vec!["z", "y"]);
    }
}
