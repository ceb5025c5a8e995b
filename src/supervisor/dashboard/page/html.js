// Views are written as tagged templates (htm) that make preact elements: no build step.
import { h } from 'preact';
import htm from 'htm';

export const html = htm.bind(h);
