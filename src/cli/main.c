/* main.c -- `neuromap`: dispatch to subcommands. */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

static const nm_cli_command commands[] = {
    {"simulate", "simulate a built-in neuron model and write its voltage trace", cmd_simulate},
    {"analyze", "spikes, ISIs and regime of a recorded voltage series", cmd_analyze},
    {"sweep", "regime of a built-in model over a grid of control values", cmd_sweep},
    {"train-vae", "train the variational autoencoder on delay vectors of series", cmd_train_vae},
    {"vae-scan", "train the VAE for D = 1..Dmax and choose the latent dimension", cmd_vae_scan},
    {"encode", "latent trajectory (encoder means) of a series under a model", cmd_encode},
    {"info", "check a model file and print its contents", cmd_info},
    {"train", "learn a model (VAE + map) from series at several control values", cmd_train},
    {"run", "free-run a learned model and write its voltage trace", cmd_run},
    {"fixed-point", "rest states of a learned map and their stability", cmd_fixed_point},
    {"compare", "a learned model against the ground truth over a p grid: regimes, metrics, plot", cmd_compare},
    {"predict", "a learned model under recorded input against the recorded V: gamma, latency", cmd_predict},
    {"distill", "a lean copy of a model (one small map, a V head): cheaper cells in NEURON", cmd_distill},
};
static const size_t ncommands = sizeof commands / sizeof commands[0];

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: neuromap COMMAND [OPTIONS]\n"
            "\n"
            "Learn neuron dynamics from one voltage series (delay embedding, variational\n"
            "autoencoder, neural-network map) and compare with ground-truth models.\n"
            "\n"
            "Commands:\n");
    for (size_t i = 0; i < ncommands; i++) fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(f,
            "\n"
            "Run 'neuromap COMMAND --help' for the options of one command.\n"
            "Times are in ms and voltages in mV everywhere.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return NM_EXIT_USAGE;
    }
    if (!getenv("OPENBLAS_NUM_THREADS")) nm_set_blas_threads(1);
    const char *name = argv[1];
    if (!strcmp(name, "--help") || !strcmp(name, "-h") || !strcmp(name, "help")) {
        if (argc > 2 && strcmp(name, "help") == 0) {
            for (size_t i = 0; i < ncommands; i++)
                if (!strcmp(argv[2], commands[i].name)) {
                    char help_flag[] = "--help";
                    char *hargv[] = {argv[2], help_flag, NULL};
                    return commands[i].run(2, hargv);
                }
        }
        usage(stdout);
        return NM_EXIT_OK;
    }
    if (!strcmp(name, "--version") || !strcmp(name, "-V")) {
        printf("neuromap %s\n", nm_version());
        return NM_EXIT_OK;
    }
    for (size_t i = 0; i < ncommands; i++)
        if (!strcmp(name, commands[i].name)) return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "neuromap: unknown command '%s'\n", name);
    usage(stderr);
    return NM_EXIT_USAGE;
}
