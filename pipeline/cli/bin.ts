#!/usr/bin/env node
// Entry point of the installed `trueup` binary.
import { runCli } from './main.js';

process.exit(await runCli(process.argv.slice(2)));
