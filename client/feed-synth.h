/*
 * feed-synth.h owns `bevaka-feed synth`: synthetic ekonomiskt bistånd case
 * histories as protocol.md §1 JSONL, calibrated on the Stockholm
 * inspectorate's findings and deterministic for a seed (docs/synth.md).
 * bevaka-feed's main() hands it the command line from "synth" on.
 */
#pragma once

/*
 * argv[0] is "synth". Writes the history (stdout or -o FILE) and a summary
 * on stderr. Returns the exit status: 0, 1 when the output cannot be
 * written, 2 for a usage error.
 */
int synth_main(int argc, char **argv);
