'use strict';
/**
 * Shed gap: the gap a viewer sees when an overloaded origin sheds a publisher (DESIGN.md section 5).
 * Origins do not shed yet, so the scenario is reported as skipped.
 */
module.exports = {
  id: 'shed',
  title: 'Shed gap',
  skip: 'not implemented yet (origins do not shed publishers yet; DESIGN.md section 5)',
};
