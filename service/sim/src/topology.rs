//! Random connected graphs and their components.

use rand_chacha::ChaCha8Rng;
use rand_core::Rng;
use rustc_hash::FxHashSet;

/// An undirected graph on `n` nodes; edges are stored with the smaller end first.
#[derive(Debug, Clone)]
pub struct Graph {
    /// Number of nodes.
    pub n: usize,
    /// Edges `(a, b)` with `a < b`, in creation order.
    pub edges: Vec<(usize, usize)>,
}

fn below(rng: &mut ChaCha8Rng, n: usize) -> usize {
    (rng.next_u64() % n as u64) as usize
}

impl Graph {
    /// A connected random graph with average degree close to `degree`: a random spanning tree
    /// (each node attaches to an earlier one) plus random extra edges.
    pub fn random(n: usize, degree: usize, rng: &mut ChaCha8Rng) -> Self {
        let mut edges = Vec::new();
        let mut seen = FxHashSet::default();
        for i in 1..n {
            let j = below(rng, i);
            seen.insert((j, i));
            edges.push((j, i));
        }
        let target = (n * degree / 2).max(edges.len());
        let max_edges = n * (n - 1) / 2;
        while edges.len() < target.min(max_edges) {
            let (a, b) = (below(rng, n), below(rng, n));
            if a == b {
                continue;
            }
            let e = (a.min(b), a.max(b));
            if seen.insert(e) {
                edges.push(e);
            }
        }
        Graph { n, edges }
    }

    /// Component id of every node, using only edges for which `alive` is true.
    pub fn components(&self, alive: impl Fn(usize) -> bool) -> Vec<usize> {
        let mut parent: Vec<usize> = (0..self.n).collect();
        fn find(p: &mut [usize], mut x: usize) -> usize {
            while p[x] != x {
                p[x] = p[p[x]];
                x = p[x];
            }
            x
        }
        for (i, &(a, b)) in self.edges.iter().enumerate() {
            if alive(i) {
                let (ra, rb) = (find(&mut parent, a), find(&mut parent, b));
                if ra != rb {
                    parent[ra.max(rb)] = ra.min(rb);
                }
            }
        }
        (0..self.n).map(|x| find(&mut parent, x)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_core::SeedableRng;

    #[test]
    fn random_graph_is_connected_with_requested_degree() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let g = Graph::random(500, 4, &mut rng);
        assert_eq!(g.edges.len(), 1000);
        let c = g.components(|_| true);
        assert!(c.iter().all(|&x| x == 0));
        // Removing every edge leaves singletons.
        let c = g.components(|_| false);
        assert_eq!(c, (0..500).collect::<Vec<_>>());
    }
}
