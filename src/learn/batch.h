/* batch.h -- pieces of a learned model that the batched step (batch.c)
 * reads (private; struct nm_learned stays in learned.c). */
#ifndef NM_LEARN_BATCH_H
#define NM_LEARN_BATCH_H

#include "learn/map.h"
#include "learn/vae.h"

const nm_map *nm_learned_map_part(const nm_learned *m);
const nm_mlp *nm_learned_dec_v_part(const nm_learned *m);

#endif
