// Placeholder: the portal's shell (issue #19) is being written.
import { h } from '../../../../portal-kit/index.js';

document.body.append(h('main', {}, 'wharf'));
