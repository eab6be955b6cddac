//! Item lists and whole networks for the exporter: a list exports its items
//! under their numbers (as it visits their parameters), a `seq` network's
//! items before `last` run over the time steps, and a generated network is
//! its core's body.

use super::graph::Op;
use super::{Export, ExportError, Graph};
use crate::kernels::Float;
use crate::network::{End, Head, Plain, Reduce, Splice, Then};

/// A list of items, exported item by item, the first under number `first`.
pub trait ExportItems<T: Float> {
    /// Returns the number of the item after the list.
    fn export_items(&self, g: &mut Graph, first: usize) -> Result<usize, ExportError>;
}

/// How an item of a list exports, by its slot: one item under its number, or
/// a spliced list whose items are numbered as the enclosing list's.
pub trait ExportSlot<T: Float, A> {
    /// Returns the number of the item after it.
    fn export_slot(item: &A, g: &mut Graph, first: usize) -> Result<usize, ExportError>;
}

impl<T: Float, A: Export<T>> ExportSlot<T, A> for Plain {
    fn export_slot(item: &A, g: &mut Graph, first: usize) -> Result<usize, ExportError> {
        g.within(&first.to_string(), |g| item.export(g))?;
        Ok(first + 1)
    }
}

/// An auxiliary head, which exports nothing (it is used only in training).
impl<T: Float, A: Export<T>> ExportSlot<T, A> for Head {
    fn export_slot(item: &A, g: &mut Graph, first: usize) -> Result<usize, ExportError> {
        g.within(&first.to_string(), |g| item.export(g))?;
        Ok(first + 1)
    }
}

impl<T: Float, A: ExportItems<T>> ExportSlot<T, A> for Splice {
    fn export_slot(item: &A, g: &mut Graph, first: usize) -> Result<usize, ExportError> {
        item.export_items(g, first)
    }
}

impl<T: Float> ExportItems<T> for End {
    fn export_items(&self, _g: &mut Graph, first: usize) -> Result<usize, ExportError> {
        Ok(first)
    }
}

impl<T: Float, A, Rest: ExportItems<T>, S: ExportSlot<T, A>, const M: usize> ExportItems<T> for Then<A, Rest, M, S> {
    fn export_items(&self, g: &mut Graph, first: usize) -> Result<usize, ExportError> {
        let next = S::export_slot(self.head(), g, first)?;
        self.rest().export_items(g, next)
    }
}

/// A list as a block's body: its items numbered from 0.
impl<T: Float, A, Rest: ExportItems<T>, S: ExportSlot<T, A>, const M: usize> Export<T> for Then<A, Rest, M, S> {
    fn export(&self, g: &mut Graph) -> Result<(), ExportError> {
        self.export_items(g, 0).map(drop)
    }
}

/// The items before `last` over every time step; `last` (a number of its
/// own) passes the final step's result on to the items after it.
impl<T: Float, Before: ExportItems<T>, After: ExportItems<T>, const H: usize> ExportItems<T>
    for Reduce<T, Before, After, H>
{
    fn export_items(&self, g: &mut Graph, first: usize) -> Result<usize, ExportError> {
        let mut last = first;
        let steps = g.nested(|g| {
            last = self.before().export_items(g, first)?;
            Ok(())
        })?;
        g.push(Op::Steps(steps));
        self.after().export_items(g, last + 1)
    }
}
