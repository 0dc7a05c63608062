/* batch.h -- pieces of a learned model that the batched step (batch.c)
 * reads (private; struct nm_learned stays in learned.c). */
#ifndef NM_LEARN_BATCH_H
#define NM_LEARN_BATCH_H

#include "learn/map.h"
#include "learn/vae.h"

const nm_map *nm_learned_map_part(const nm_learned *m);
/* What decodes V at run time [D -> ... -> 1]: the V head when the file has
 * one (vhead.h), else the decoder cut to its first output.  Its widths are
 * within NM_MLP_APPLY1_MAX_WIDTH either way. */
const nm_mlp *nm_learned_dec_v_part(const nm_learned *m);
/* V (mV) of latent state x decoded with dec_v (a cut decoder or a V head of
 * vae's latent space): what nm_learned_decode_v computes with the model's own. */
double nm_learned_decode_v_with(const nm_mlp *dec_v, const nm_vae *vae, const double *x);
/* The decoder cut to its first output, always (kept next to a loaded head):
 * the network a V head is fitted to (nm_vhead_fit). */
const nm_mlp *nm_learned_decoder_v_part(const nm_learned *m);

#endif
