#include "core/json_schema.hpp"
